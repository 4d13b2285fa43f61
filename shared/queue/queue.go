// Package queue defines qbridge's queue port: batched sends, receives with
// a visibility timeout, deletes, and dead-letter queues an operator can
// list, replay and discard. queue/sqs implements it on Amazon SQS,
// queue/embedded on the local SQLite file, both held to queue/queuetest.
package queue

import (
	"context"
	"fmt"
	"time"
)

// MaxMessageBytes is SQS's classic message size limit, body and attributes
// together. qbridge refuses larger messages rather than split an event.
const MaxMessageBytes = 256 * 1024

// MaxBatch is the most messages one SendMessageBatch carries.
const MaxBatch = 10

// Message attributes qbridge sets.
const (
	AttrReason       = "qbridge-reason"        // why a message was dead-lettered
	AttrFlow         = "qbridge-flow"          // the flow that dead-lettered it
	AttrFirstAttempt = "qbridge-first-attempt" // RFC 3339
	AttrLastAttempt  = "qbridge-last-attempt"  // RFC 3339
	AttrReceives     = "qbridge-receives"      // receives before it was dead-lettered
	AttrReplay       = "qbridge-replay"        // an operator replayed it: apply even if unchanged
)

// MaxDelay is the longest delay SQS allows on a message.
const MaxDelay = 15 * time.Minute

// Outgoing is a message to send.
type Outgoing struct {
	Body       []byte
	Attributes map[string]string
	// Delay keeps the message invisible for a while after sending (whole
	// seconds, at most MaxDelay): a retry that can only succeed later.
	Delay time.Duration
}

// Size is the message's billed size: body plus attribute names and values.
func (m Outgoing) Size() int {
	n := len(m.Body)
	for k, v := range m.Attributes {
		n += len(k) + len(v) + len("String")
	}
	return n
}

// Message is a received message.
type Message struct {
	ID              string
	Body            []byte
	Attributes      map[string]string
	ReceiveCount    int
	SentAt          time.Time
	FirstReceivedAt time.Time
	Receipt         string // handle for Delete and ChangeVisibility
}

// Queue is one queue.
type Queue interface {
	// Send sends messages, MaxBatch per request (fewer when their size adds
	// up to MaxMessageBytes), retrying entries the queue failed to take. A
	// message over MaxMessageBytes fails the call before anything is sent.
	Send(ctx context.Context, msgs []Outgoing) error
	// Receive returns up to max messages, waiting up to wait for the first;
	// each stays invisible for the queue's visibility timeout.
	Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error)
	// Delete removes received messages by receipt.
	Delete(ctx context.Context, receipts []string) error
	// ChangeVisibility makes a received message visible again after d.
	ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error
}

// DeadLetter is a message in a dead-letter queue.
type DeadLetter struct {
	Message
	Reason       string // why; for a message redriven after its retries, says so
	Flow         string
	FirstAttempt time.Time
	LastAttempt  time.Time
}

// DeadLetters is a dead-letter queue an operator works on.
type DeadLetters interface {
	// List returns up to max dead letters without consuming them.
	List(ctx context.Context, max int) ([]DeadLetter, error)
	// Replay sends the dead letter with id back to its source queue, marked
	// as a replay, and removes it. It returns the letter, or nil when id is
	// not there (acted on already).
	Replay(ctx context.Context, id string) (*DeadLetter, error)
	// Discard removes the dead letter with id and returns it, or nil when
	// it is not there.
	Discard(ctx context.Context, id string) (*DeadLetter, error)
}

// TooLargeError is returned for a message over MaxMessageBytes.
type TooLargeError struct {
	Index, Size int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("message %d is %d bytes, over the queue's %d-byte limit", e.Index, e.Size, MaxMessageBytes)
}

// Check refuses messages over the limit.
func Check(msgs []Outgoing) error {
	for i, m := range msgs {
		if s := m.Size(); s > MaxMessageBytes {
			return &TooLargeError{Index: i, Size: s}
		}
	}
	return nil
}

// Batches splits msgs into send requests: at most MaxBatch messages and
// MaxMessageBytes in total each.
func Batches(msgs []Outgoing) [][]Outgoing {
	var out [][]Outgoing
	var cur []Outgoing
	size := 0
	for _, m := range msgs {
		s := m.Size()
		if len(cur) == MaxBatch || (len(cur) > 0 && size+s > MaxMessageBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, m)
		size += s
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// DeadLetterOf reads qbridge's attributes off a dead-lettered message.
func DeadLetterOf(m Message, redrivenAfter int) DeadLetter {
	d := DeadLetter{Message: m, Reason: m.Attributes[AttrReason], Flow: m.Attributes[AttrFlow]}
	d.FirstAttempt, _ = time.Parse(time.RFC3339, m.Attributes[AttrFirstAttempt])
	d.LastAttempt, _ = time.Parse(time.RFC3339, m.Attributes[AttrLastAttempt])
	if d.Reason == "" {
		d.Reason = fmt.Sprintf("redriven by the queue after %d failed receives (transient errors)", redrivenAfter)
		d.FirstAttempt = m.SentAt
	}
	return d
}
