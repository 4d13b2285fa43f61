package ops

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/qbridge/qbridge/shared/envelope"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/store"
)

// DeadLetter is one entry of GET /ops/deadletters.
type DeadLetter struct {
	ID           string         `json:"id"`
	Queue        string         `json:"queue"`
	Connection   string         `json:"connection"`
	Entity       string         `json:"entity"`
	Key          string         `json:"key"`
	Action       string         `json:"action"`
	Version      int64          `json:"version,omitempty"`
	Reason       string         `json:"reason"`
	Flow         string         `json:"flow"`
	FirstAttempt string         `json:"firstAttempt,omitempty"`
	LastAttempt  string         `json:"lastAttempt,omitempty"`
	Receives     string         `json:"receives,omitempty"`
	Events       int            `json:"events"`
	Preview      map[string]any `json:"preview,omitempty"` // the record, personal data masked
}

const listMax = 100

func (s *Service) deadLetters(ctx context.Context) ([]DeadLetter, error) {
	var out []DeadLetter
	for _, q := range s.DeadLetters {
		letters, err := q.Letters.List(ctx, listMax)
		if err != nil {
			return nil, model.Wrap(model.EUnavailable, "dead-letter queue unavailable", err)
		}
		for _, d := range letters {
			out = append(out, s.describe(q.Name, d))
		}
	}
	return out, nil
}

func (s *Service) describe(queueName string, d queue.DeadLetter) DeadLetter {
	dl := DeadLetter{ID: d.ID, Queue: queueName, Reason: d.Reason, Flow: d.Flow, Receives: d.Attributes[queue.AttrReceives],
		Connection: d.Attributes[envelope.AttrConnection]}
	if !d.FirstAttempt.IsZero() {
		dl.FirstAttempt = d.FirstAttempt.Format("2006-01-02T15:04:05Z07:00")
	}
	if !d.LastAttempt.IsZero() {
		dl.LastAttempt = d.LastAttempt.Format("2006-01-02T15:04:05Z07:00")
	}
	env, err := envelope.Unpack(d.Body)
	if err != nil || len(env.Events) == 0 {
		dl.Entity = "(unreadable message)"
		return dl
	}
	ev := env.Events[0]
	dl.Events, dl.Connection, dl.Entity, dl.Key, dl.Action, dl.Version = len(env.Events), ev.Connection, ev.Entity, ev.Key, string(ev.Action), ev.Version
	if len(ev.Payload) > 0 {
		var rec map[string]any
		if json.Unmarshal(ev.Payload, &rec) == nil {
			keep := map[string]bool{}
			if c, ok := s.Connections.Get(ev.Connection); ok {
				if e := c.Spec.Entity(ev.Entity); e != nil {
					keep[e.Key], keep[e.Version] = true, true
				}
			}
			dl.Preview = Mask(rec, keep)
		}
	}
	return dl
}

// Mask hides the values of a record that may be personal data: text is cut
// to its first two characters, nested objects and lists likewise; numbers
// and booleans stay, as do the fields named in keep (the record's key and
// version).
func Mask(rec map[string]any, keep map[string]bool) map[string]any {
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		if keep[k] {
			out[k] = v
			continue
		}
		out[k] = maskValue(v)
	}
	return out
}

func maskValue(v any) any {
	switch t := v.(type) {
	case string:
		if t == "" {
			return ""
		}
		n := utf8.RuneCountInString(t)
		head := []rune(t)[:min(2, n)]
		return string(head) + strings.Repeat("•", 3) + "(" + itoa(n) + ")"
	case map[string]any:
		return Mask(t, nil)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = maskValue(x)
		}
		return out
	}
	return v
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Acted is the answer to a replay or discard.
type Acted struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
}

// act replays or discards a dead letter, and audits who did it and why.
func (s *Service) act(ctx context.Context, id, action string, body []byte, actor string) (Acted, error) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(body, &in); err != nil || len(strings.TrimSpace(in.Reason)) < 3 {
		return Acted{}, model.Errorf(model.EInvalid, `say why: a JSON body {"reason": "..."} of at least 3 characters`)
	}
	for _, q := range s.DeadLetters {
		// Replay and Discard find the letter themselves and return it: one
		// scan of the queue, and no window between finding and acting.
		var d *queue.DeadLetter
		var err error
		if action == "replay" {
			d, err = q.Letters.Replay(ctx, id)
		} else {
			d, err = q.Letters.Discard(ctx, id)
		}
		if err != nil {
			return Acted{}, model.Wrap(model.EUnavailable, "dead-letter queue unavailable", err)
		}
		if d == nil {
			continue // not in this queue, or someone else acted on it
		}
		dl := s.describe(q.Name, *d)
		outcome := map[string]string{"replay": "replayed", "discard": "discarded"}[action]
		rec := store.AuditRecord{Time: s.now(), Connection: dl.Connection, Flow: "ops", Entity: dl.Entity, Key: dl.Key,
			Outcome: outcome, Version: dl.Version, MessageID: id, Actor: actor, Detail: strings.TrimSpace(in.Reason)}
		if err := s.Audit.Append(ctx, []store.AuditRecord{rec}); err != nil {
			// The action happened; say so loudly rather than hide it.
			s.log().ErrorContext(ctx, "dead letter "+outcome+" but not audited", "id", id, "actor", actor, "error", err.Error())
			return Acted{}, model.Wrap(model.EUnavailable, outcome+", but the audit trail could not record it: contact support", err)
		}
		s.log().InfoContext(ctx, "dead letter "+outcome, "id", id, "actor", actor, "connection", dl.Connection, "entity", dl.Entity, "key", dl.Key)
		return Acted{ID: id, Action: outcome, Actor: actor, Reason: rec.Detail}, nil
	}
	return Acted{}, model.Errorf(model.ENotFound, "no dead letter %s (replayed or discarded already?)", id)
}
