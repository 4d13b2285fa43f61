package sqs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/testenv"
)

// BenchmarkRequestsPer1000 sends 1,000 event-sized messages, receives and
// deletes them all, and reports the SQS requests that took (billed, in
// 64 KB chunks) per 1,000 messages.
func BenchmarkRequestsPer1000(b *testing.B) {
	meter := &obs.Meter{}
	c := testenv.SQS(b, meter.APIOption)
	ctx := context.Background()
	src, _, err := CreateQueues(ctx, c, testenv.Name("bench"), 30*time.Second, 5)
	if err != nil {
		b.Fatal(err)
	}
	q := New(c, src)
	msgs := make([]queue.Outgoing, 1000)
	for i := range msgs {
		msgs[i] = queue.Outgoing{Body: []byte(fmt.Sprintf(`{"id":"evt-%06d","connection":"acme-bc","entity":"items","key":"5d115c9c-44e3-ea11-bb43-%012d","action":"updated","thin":true,"resource":"companies(1)/items(%d)","source":"businesscentral","receivedAt":"2026-12-04T10:00:00Z"}`, i, i, i))}
	}
	meter.Reset()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.Send(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		got := 0
		for got < len(msgs) {
			ms, err := q.Receive(ctx, 1000, time.Second)
			if err != nil {
				b.Fatal(err)
			}
			receipts := make([]string, len(ms))
			for j, m := range ms {
				receipts[j] = m.Receipt
			}
			if err := q.Delete(ctx, receipts); err != nil {
				b.Fatal(err)
			}
			got += len(ms)
		}
	}
	u := meter.Snapshot()
	b.ReportMetric(float64(u.SQSBillable)/float64(b.N), "requests/1000msgs")
	b.ReportMetric(float64(u.Requests["SQS.SendMessageBatch"])/float64(b.N), "sends/1000msgs")
}
