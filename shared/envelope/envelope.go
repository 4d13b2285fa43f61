// Package envelope is the format of qbridge's queue messages: change events
// packed many to a message (up to one 64 KB SQS billing chunk), so a BC
// notification carrying hundreds of changes costs a few queue requests, not
// hundreds.
package envelope

import (
	"encoding/json"
	"fmt"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/queue"
)

// Version is the envelope format version.
const Version = 1

// ChunkBytes is the target size of one message: one SQS billing chunk.
const ChunkBytes = 64 << 10

// AttrConnection names the connection of a message's events.
const AttrConnection = "qbridge-connection"

// Envelope is one message body.
type Envelope struct {
	V      int                 `json:"v"`
	Events []model.ChangeEvent `json:"events"`
	// Retry is set on a message dispatch sent back to the queue for the
	// events of a batch that failed for a transient reason.
	Retry *Retry `json:"retry,omitempty"`
}

// Retry says whose claim the events carry and how often they were tried.
type Retry struct {
	Owner   string `json:"owner"`   // the message that claimed the keys
	Attempt int    `json:"attempt"` // attempts so far
	Error   string `json:"error"`   // the last failure, for a dead letter
}

// Pack packs events of one connection into messages of at most ChunkBytes
// (a single larger event gets a message of its own, up to the queue limit).
func Pack(connection string, events []model.ChangeEvent, attrs map[string]string) ([]queue.Outgoing, error) {
	return PackRetry(connection, events, attrs, nil)
}

// PackRetry packs events with retry information.
func PackRetry(connection string, events []model.ChangeEvent, attrs map[string]string, retry *Retry) ([]queue.Outgoing, error) {
	head := `{"v":1,`
	if retry != nil {
		b, err := json.Marshal(retry)
		if err != nil {
			return nil, err
		}
		head += `"retry":` + string(b) + `,`
	}
	var out []queue.Outgoing
	var cur [][]byte
	size := 0
	flush := func() {
		if len(cur) == 0 {
			return
		}
		body := make([]byte, 0, size+32)
		body = append(body, head...)
		body = append(body, `"events":[`...)
		for i, e := range cur {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, e...)
		}
		body = append(body, "]}"...)
		a := map[string]string{AttrConnection: connection}
		for k, v := range attrs {
			a[k] = v
		}
		out = append(out, queue.Outgoing{Body: body, Attributes: a})
		cur, size = nil, 0
	}
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("envelope: event %s: %w", e.ID, err)
		}
		if len(cur) > 0 && size+len(b)+64 > ChunkBytes {
			flush()
		}
		cur = append(cur, b)
		size += len(b) + 1
	}
	flush()
	return out, nil
}

// Unpack reads a message body.
func Unpack(body []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fmt.Errorf("message is not a qbridge envelope: %v", err)
	}
	if e.V != Version {
		return e, fmt.Errorf("message has envelope version %d, want %d", e.V, Version)
	}
	return e, nil
}
