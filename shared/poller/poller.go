// Package poller does what a Lambda SQS event source mapping does, for the
// local runner and end-to-end tests: receive a batch (up to BatchSize
// messages, waiting up to Window to fill it), hand it to the handler as an
// events.SQSEvent, delete the messages not reported in batchItemFailures,
// and leave the failed ones to come back after their visibility timeout.
package poller

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/shared/dispatch"
	"github.com/qbridge/qbridge/shared/queue"
)

// Handler is a Lambda SQS handler.
type Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// Poller feeds one queue to one handler.
type Poller struct {
	Queue     queue.Queue
	Handler   Handler
	BatchSize int           // default 100
	Window    time.Duration // batching window; default 1s
	ARN       string        // event source ARN in the records
	// Timeout is the handler's deadline, like a function timeout; default 60s.
	Timeout time.Duration
}

// Once receives and handles one batch; it returns how many messages it
// handled and how many failed.
func (p *Poller) Once(ctx context.Context) (handled, failed int, err error) {
	size, window := p.BatchSize, p.Window
	if size <= 0 {
		size = 100
	}
	if window <= 0 {
		window = time.Second
	}
	// Long-poll for the first message, as the event source mapping does.
	msgs, err := p.Queue.Receive(ctx, size, max(window, time.Second))
	if err != nil || len(msgs) == 0 {
		return 0, 0, err
	}
	deadline := time.Now().Add(window)
	for len(msgs) < size && time.Now().Before(deadline) {
		more, err := p.Queue.Receive(ctx, size-len(msgs), 0)
		if err != nil || len(more) == 0 {
			break
		}
		msgs = append(msgs, more...)
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = dispatch.ToSQS(m, p.ARN)
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	resp, herr := p.Handler(hctx, ev)
	cancel()
	if herr != nil {
		// A handler error fails the whole batch, as in Lambda.
		return len(msgs), len(msgs), nil
	}
	failedIDs := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failedIDs[f.ItemIdentifier] = true
	}
	var done []string
	for _, m := range msgs {
		if !failedIDs[m.ID] {
			done = append(done, m.Receipt)
		}
	}
	return len(msgs), len(failedIDs), p.Queue.Delete(ctx, done)
}

// Run polls until ctx is done.
func (p *Poller) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if _, _, err := p.Once(ctx); err != nil && ctx.Err() == nil {
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	return nil
}
