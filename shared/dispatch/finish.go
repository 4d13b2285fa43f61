package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/qbridge/qbridge/shared/envelope"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/store"
)

// finish puts back the state of dead letters, sends them, writes the audit
// trail and the metrics.
func (r *run) finish(ctx context.Context) {
	now := r.d.now()
	r.giveUp(now)
	var dead []*item
	for _, it := range r.items {
		if it.outcome != DeadLettered {
			continue
		}
		if it.claimed {
			// AlisQI does not hold what the state would claim: put it back.
			if err := r.d.States.Restore(ctx, it.ev.EntityKey(), r.id, it.cur); err != nil {
				it.outcome, it.reason = Retried, "could not restore the state of a refused record: "+err.Error()
				continue
			}
		}
		dead = append(dead, it)
	}
	r.deadLetter(ctx, dead, now)
	r.requeue(ctx, now)

	recs := make([]store.AuditRecord, 0, len(r.items))
	for _, it := range r.items {
		recs = append(recs, r.auditRecord(it, now))
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = r.d.Audit.Append(ctx, recs); err == nil {
			break
		}
	}
	if err != nil {
		// Without its audit record the work must come back and be redone.
		r.d.log().ErrorContext(ctx, "audit trail unavailable; retrying the batch", "error", err.Error())
		for _, m := range r.msgs {
			m.retry = true
		}
	}
	r.metrics(ctx, now)
}

// giveUp dead-letters events that failed transiently too often.
func (r *run) giveUp(now time.Time) {
	for _, it := range r.items {
		if it.outcome == Retried && !it.busy && it.msg.attempt+1 >= r.d.maxAttempts() {
			it.outcome, it.reason = DeadLettered, fmt.Sprintf("gave up after %d attempts; the last: %s", it.msg.attempt+1, it.reason)
			if it.logged == "" {
				it.logged = it.reason
			}
		}
	}
}

// requeue sends each message's transiently failed events back to the
// inbound queue, alone and delayed until they can succeed, carrying the
// owner each one claimed its key with; the original message is then done.
func (r *run) requeue(ctx context.Context, now time.Time) {
	for _, m := range r.msgs {
		if m.retry {
			continue
		}
		byOwner := map[string][]*item{}
		var owners []string
		for _, it := range m.items {
			if it.outcome != Retried {
				continue
			}
			if byOwner[it.owner] == nil {
				owners = append(owners, it.owner)
			}
			byOwner[it.owner] = append(byOwner[it.owner], it)
		}
		if len(owners) == 0 {
			continue
		}
		if r.d.Inbound == nil {
			m.retry = true
			continue
		}
		var out []queue.Outgoing
		var err error
		for _, owner := range owners {
			var msgs []queue.Outgoing
			if msgs, err = r.retryMessages(m, owner, byOwner[owner], now); err != nil {
				break
			}
			out = append(out, msgs...)
		}
		if err == nil {
			err = r.d.Inbound.Send(ctx, out)
		}
		if err != nil {
			// Could not split the retry off: the whole message comes back.
			r.d.log().WarnContext(ctx, "could not requeue failed events; retrying the whole message", "error", err.Error())
			m.retry = true
		}
	}
}

// retryMessages packs one owner's failed events of message m, delayed until
// they can succeed: the latest known retry time, else backoff.
func (r *run) retryMessages(m *message, owner string, items []*item, now time.Time) ([]queue.Outgoing, error) {
	evs := make([]model.ChangeEvent, len(items))
	var retryAt int64
	backoffOnly := false
	for i, it := range items {
		evs[i] = it.ev
		if it.retryAt == 0 {
			backoffOnly = true
		}
		retryAt = max(retryAt, it.retryAt)
	}
	delay := r.d.backoff(m.attempt)
	if !backoffOnly {
		delay = max(time.Unix(retryAt, 0).Sub(now)+time.Second, time.Second)
	}
	// The retry runs in another run, which cannot take over this run's
	// lease: it waits for the lease on a key claimed here to run out.
	for _, it := range items {
		if it.claimed {
			delay = max(delay, time.Unix(it.next.LeaseUntil, 0).Sub(now)+time.Second)
		}
	}
	// Waiting for another message's lease is not a failed attempt.
	attempt := m.attempt
	for _, it := range items {
		if !it.busy {
			attempt = m.attempt + 1
			break
		}
	}
	attrs := map[string]string{}
	if v := m.m.Attributes[queue.AttrReplay]; v != "" {
		attrs[queue.AttrReplay] = v
	}
	last := items[len(items)-1].reason
	out, err := envelope.PackRetry(evs[0].Connection, evs, attrs, &envelope.Retry{Owner: owner, Attempt: attempt, Error: truncate(last, 500)})
	for i := range out {
		out[i].Delay = min(delay, queue.MaxDelay)
	}
	return out, err
}

// backoff is the delay before attempt n+1: RetryBase doubling, capped at
// the queue's 15 minutes.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	base := d.RetryBase
	if base <= 0 {
		base = 5 * time.Second
	}
	return min(queue.MaxDelay, base<<min(attempt, 10))
}

func (r *run) deadLetter(ctx context.Context, dead []*item, now time.Time) {
	var out []queue.Outgoing
	var sent []*item
	for _, it := range dead {
		body, err := envelope.Pack(it.ev.Connection, []model.ChangeEvent{it.ev}, nil)
		if err != nil || len(body) != 1 {
			it.msg.retry = true
			continue
		}
		first := it.msg.m.FirstReceivedAt
		if first.IsZero() {
			first = it.msg.m.SentAt
		}
		if first.IsZero() {
			first = now
		}
		m := body[0]
		m.Attributes[queue.AttrReason] = truncate(it.reason, 1000)
		m.Attributes[queue.AttrFlow] = "dispatch"
		m.Attributes[queue.AttrFirstAttempt] = first.UTC().Format(time.RFC3339)
		m.Attributes[queue.AttrLastAttempt] = now.UTC().Format(time.RFC3339)
		m.Attributes[queue.AttrReceives] = strconv.Itoa(it.msg.m.ReceiveCount)
		out = append(out, m)
		sent = append(sent, it)
	}
	if len(out) == 0 {
		return
	}
	if err := r.d.DeadLetter.Send(ctx, out); err != nil {
		// Never lose one: the message comes back and is tried again.
		r.d.log().ErrorContext(ctx, "dead-letter queue unavailable", "error", err.Error(), "events", len(out))
		for _, it := range sent {
			it.msg.retry = true
		}
		return
	}
	for _, it := range sent {
		r.d.log().WarnContext(ctx, "dead-lettered", slog.String("connection", it.ev.Connection), slog.String("entity", it.ev.Entity),
			slog.String("key", it.ev.Key), slog.String("event", it.ev.ID), slog.String("reason", it.logged))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (r *run) auditRecord(it *item, now time.Time) store.AuditRecord {
	rec := store.AuditRecord{Time: now, Connection: it.ev.Connection, Flow: "dispatch", Entity: it.ev.Entity, Key: it.ev.Key,
		Outcome: it.outcome, Version: it.ev.Version, MessageID: it.msg.m.ID, Detail: it.logged}
	if rec.Detail == "" {
		rec.Detail = it.reason
	}
	if it.next.Version != 0 {
		rec.Version = it.next.Version
	}
	switch {
	case it.next.Hash != "":
		rec.PayloadHash = it.next.Hash
	case len(it.ev.Payload) > 0:
		sum := sha256.Sum256(it.ev.Payload)
		rec.PayloadHash = hex.EncodeToString(sum[:16])
	}
	if it.force {
		rec.Actor = "replay"
	}
	if !it.ev.ReceivedAt.IsZero() && it.outcome != Retried {
		rec.LatencyMs = now.Sub(it.ev.ReceivedAt).Milliseconds()
	}
	return rec
}

func (r *run) metrics(ctx context.Context, now time.Time) {
	per := map[string]*obs.Metrics{}
	get := func(conn string) *obs.Metrics {
		if per[conn] == nil {
			per[conn] = obs.NewMetrics("qbridge", map[string]string{"Flow": "dispatch", "Connection": conn})
		}
		return per[conn]
	}
	counts := map[string]int{}
	for _, it := range r.items {
		get(it.ev.Connection).Count(it.outcome, 1)
		counts[it.outcome]++
	}
	for conn, calls := range r.calls {
		get(conn.Name()).Count("alisqiCalls", int(calls))
		get(conn.Name()).Count("alisqiThrottled", int(r.throttled[conn]))
	}
	for _, m := range per {
		m.Millis("batchDuration", now.Sub(r.start))
		_ = m.Write(r.d.metricsOut(), now)
	}
	attrs := []any{"messages", len(r.msgs), "events", len(r.items), "ms", now.Sub(r.start).Milliseconds()}
	for _, o := range []string{Applied, Coalesced, Stale, Unchanged, Deleted, Expanded, DeadLettered, Retried} {
		if counts[o] > 0 {
			attrs = append(attrs, o, counts[o])
		}
	}
	r.d.log().InfoContext(ctx, "batch", attrs...)
}
