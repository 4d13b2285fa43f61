package sqs

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/queue/queuetest"
	"github.com/qbridge/qbridge/shared/testenv"
)

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, cfg queuetest.Config) queuetest.Queues {
		c := testenv.SQS(t)
		src, dlq, err := CreateQueues(context.Background(), c, testenv.Name("q"), cfg.Visibility, cfg.MaxReceives)
		if err != nil {
			t.Fatal(err)
		}
		s, d := New(c, src), New(c, dlq)
		return queuetest.Queues{Source: s, DLQ: d, DeadLetters: NewDeadLetters(d, s, cfg.MaxReceives)}
	})
}

// Sends are batched: 10 messages a request, and fewer when large.
func TestSendIsBatched(t *testing.T) {
	meter := &obs.Meter{}
	c := testenv.SQS(t, meter.APIOption)
	src, _, err := CreateQueues(context.Background(), c, testenv.Name("q"), 30e9, 5)
	if err != nil {
		t.Fatal(err)
	}
	q := New(c, src)
	var msgs []queue.Outgoing
	for i := 0; i < 1000; i++ {
		msgs = append(msgs, queue.Outgoing{Body: []byte(fmt.Sprintf(`{"id":%d}`, i))})
	}
	meter.Reset()
	if err := q.Send(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if u := meter.Snapshot(); u.Requests["SQS.SendMessageBatch"] != 100 || u.SQSBillable != 100 {
		t.Errorf("1000 small messages took %v requests (%d billable), want 100", u.Requests, u.SQSBillable)
	}
	meter.Reset()
	big := queue.Outgoing{Body: bytes.Repeat([]byte("a"), 100<<10)}
	if err := q.Send(context.Background(), []queue.Outgoing{big, big, big}); err != nil {
		t.Fatal(err)
	}
	if u := meter.Snapshot(); u.Requests["SQS.SendMessageBatch"] != 2 || u.SQSBillable != 6 {
		t.Errorf("3 × 100 KB: %v requests, %d billable; want 2 requests billed as 4+2 64 KB chunks", u.Requests, u.SQSBillable)
	}
}
