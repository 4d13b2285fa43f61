package sqs

import (
	"context"
	"errors"
	"time"

	"github.com/qbridge/qbridge/shared/queue"
)

// DeadLetters works on an SQS dead-letter queue. SQS cannot peek, so
// listing receives messages with a short hold and releases them at once; a
// dispatcher never reads a DLQ, so the hold delays no one.
type DeadLetters struct {
	dlq         *Queue
	source      *Queue
	maxReceives int
	// Hold is how long a scan keeps messages invisible if the release fails.
	Hold time.Duration
}

var _ queue.DeadLetters = (*DeadLetters)(nil)

// NewDeadLetters works on dlq, whose messages came from source after
// maxReceives failed receives or were dead-lettered by a flow.
func NewDeadLetters(dlq, source *Queue, maxReceives int) *DeadLetters {
	return &DeadLetters{dlq: dlq, source: source, maxReceives: maxReceives, Hold: 20 * time.Second}
}

// scan receives up to max distinct messages and holds them.
func (d *DeadLetters) scan(ctx context.Context, max int) ([]queue.Message, error) {
	hold := int32(d.Hold / time.Second)
	seen := map[string]bool{}
	var out []queue.Message
	for empty := 0; len(out) < max && empty < 2; {
		got, err := d.dlq.receive(ctx, min(10, max-len(out)), 0, &hold)
		if err != nil {
			return out, err
		}
		fresh := 0
		for _, m := range got {
			if !seen[m.ID] {
				seen[m.ID] = true
				out = append(out, m)
				fresh++
			}
		}
		if fresh == 0 {
			empty++ // SQS samples servers: ask twice before calling it empty
		}
	}
	return out, nil
}

// List implements queue.DeadLetters.
func (d *DeadLetters) List(ctx context.Context, max int) ([]queue.DeadLetter, error) {
	msgs, err := d.scan(ctx, max)
	if rerr := d.dlq.release(ctx, msgs); err == nil {
		err = rerr
	}
	out := make([]queue.DeadLetter, len(msgs))
	for i, m := range msgs {
		out[i] = queue.DeadLetterOf(m, d.maxReceives)
	}
	return out, err
}

// find scans for id; the others are released.
func (d *DeadLetters) find(ctx context.Context, id string) (*queue.Message, error) {
	msgs, err := d.scan(ctx, 1000)
	var found *queue.Message
	var others []queue.Message
	for i := range msgs {
		if msgs[i].ID == id {
			found = &msgs[i]
		} else {
			others = append(others, msgs[i])
		}
	}
	return found, errors.Join(err, d.dlq.release(ctx, others))
}

// Replay implements queue.DeadLetters.
func (d *DeadLetters) Replay(ctx context.Context, id string) (*queue.DeadLetter, error) {
	m, err := d.find(ctx, id)
	if err != nil || m == nil {
		return nil, err
	}
	attrs := make(map[string]string, len(m.Attributes)+1)
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs[queue.AttrReplay] = "true"
	if err := d.source.Send(ctx, []queue.Outgoing{{Body: m.Body, Attributes: attrs}}); err != nil {
		return nil, errors.Join(err, d.dlq.release(ctx, []queue.Message{*m}))
	}
	dl := queue.DeadLetterOf(*m, d.maxReceives)
	return &dl, d.dlq.Delete(ctx, []string{m.Receipt})
}

// Discard implements queue.DeadLetters.
func (d *DeadLetters) Discard(ctx context.Context, id string) (*queue.DeadLetter, error) {
	m, err := d.find(ctx, id)
	if err != nil || m == nil {
		return nil, err
	}
	dl := queue.DeadLetterOf(*m, d.maxReceives)
	return &dl, d.dlq.Delete(ctx, []string{m.Receipt})
}
