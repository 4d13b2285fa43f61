package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/qbridge/qbridge/shared/alisqi"
	"github.com/qbridge/qbridge/shared/connections"
	"github.com/qbridge/qbridge/shared/store"
)

// target is one kind of storeResults call.
type target struct {
	conn           *connections.Connection
	set            int
	keyField       string
	editOnly       bool
	addListOptions bool
	inspection     bool // written after the entity results
}

type entry struct {
	it   *item
	body json.RawMessage
}

// maxCallBytes keeps one storeResults call's form well under a few MB.
const maxCallBytes = 4 << 20

// write groups the prepared results by target and writes them chunk by
// chunk: claim the chunk's keys, then one storeResults.
func (r *run) write(ctx context.Context, winners []*item) {
	groups := map[target][]entry{}
	for _, it := range winners {
		if it.final() {
			continue
		}
		a := it.entity.AlisQI
		t := target{conn: it.conn, set: a.Set, keyField: a.KeyField, editOnly: a.EditOnly || it.editOnly, addListOptions: a.AddListOptions}
		groups[t] = append(groups[t], entry{it, it.body})
		for _, in := range it.inspections {
			t := target{conn: it.conn, set: in.Set, keyField: in.KeyField, inspection: true}
			groups[t] = append(groups[t], entry{it, in.Result.AppendJSON(nil)})
		}
	}
	targets := make([]target, 0, len(groups))
	for t := range groups {
		targets = append(targets, t)
	}
	sort.Slice(targets, func(i, j int) bool {
		a, b := targets[i], targets[j]
		if a.inspection != b.inspection {
			return !a.inspection
		}
		if a.conn.Name() != b.conn.Name() {
			return a.conn.Name() < b.conn.Name()
		}
		return a.set < b.set
	})
	for _, t := range targets {
		r.writeTarget(ctx, t, groups[t])
	}
	for _, it := range winners {
		if !it.final() {
			it.finish(Applied, "")
		}
	}
}

func (r *run) writeTarget(ctx context.Context, t target, entries []entry) {
	client, err := r.d.Connections.AlisQI(ctx, t.conn)
	if err != nil {
		for _, e := range entries {
			e.it.retry(err.Error())
		}
		return
	}
	before, limited := client.Calls(), client.Throttled()
	defer func() {
		r.calls[t.conn] += client.Calls() - before
		r.throttled[t.conn] += client.Throttled() - limited
	}()
	size := t.conn.Spec.AlisQI.BatchSize
	for start := 0; start < len(entries); {
		// An item already given up on (dead-lettered, retried) writes
		// nothing more, e.g. no inspection for a record AlisQI refused.
		var chunk []entry
		bytes := 0
		for ; start < len(entries) && len(chunk) < size && bytes < maxCallBytes; start++ {
			if e := entries[start]; !e.it.final() {
				chunk = append(chunk, e)
				bytes += len(e.body)
			}
		}
		if len(chunk) == 0 {
			continue
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < r.d.margin() {
			for _, e := range chunk {
				e.it.retry("the invocation ran out of time")
			}
			continue
		}
		chunk = r.claim(ctx, chunk)
		if len(chunk) == 0 {
			continue
		}
		r.store(ctx, client, t, chunk)
	}
}

// leaseMargin is how much lease a storeResults call must have left when it
// starts (else the lease is renewed first): half the lease, at most 8 s.
// Each call is bounded to end before the lease does.
func (d *Dispatcher) leaseMargin() time.Duration { return min(8*time.Second, d.lease()/2) }

// claim applies the chunk's unclaimed states in parallel and returns the
// entries whose keys are now this message's. With renew it re-applies
// states already claimed whose lease runs short (a re-apply by the owner).
func (r *run) claim(ctx context.Context, chunk []entry, renew ...bool) []entry {
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.d.parallel())
	soon := r.d.now().Add(r.d.leaseMargin()).Unix()
	for _, e := range chunk {
		it := e.it
		if it.final() || (it.claimed && (len(renew) == 0 || it.next.LeaseUntil > soon)) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// The lease starts now, just before the write it protects.
			it.next.LeaseUntil = r.d.now().Add(r.d.lease()).Unix()
			outcome, cur, err := r.d.States.Apply(ctx, it.next, it.force)
			switch {
			case err != nil:
				it.retry("state store: " + err.Error())
			case outcome == store.Applied:
				it.claimed = true
			case outcome == store.Stale:
				it.finish(Stale, fmt.Sprintf("a newer version (%d) was applied meanwhile", cur.Version))
			case outcome == store.Unchanged:
				it.finish(Unchanged, "the same content was applied meanwhile")
			default:
				it.retryAt, it.busy = cur.LeaseUntil, true
				it.retry("another message is writing this record")
			}
		}()
	}
	wg.Wait()
	out := chunk[:0:0]
	for _, e := range chunk {
		if e.it.claimed && !e.it.final() {
			out = append(out, e)
		}
	}
	return out
}

// store writes a chunk; a permanent rejection is bisected down to the
// record(s) AlisQI refuses, which are dead-lettered while the rest is written.
func (r *run) store(ctx context.Context, client *alisqi.Client, t target, chunk []entry) {
	// Never write after a lease runs out: another message may own the key
	// by then. A chunk whose lease runs short is renewed first (only long
	// bisections under the rate limit get here).
	if chunk = r.claim(ctx, chunk, true); len(chunk) == 0 {
		return
	}
	until := chunk[0].it.next.LeaseUntil
	for _, e := range chunk {
		until = min(until, e.it.next.LeaseUntil)
	}
	wctx, cancel := context.WithDeadline(ctx, time.Unix(until, 0).Add(-2*time.Second))
	defer cancel()
	results := make([]json.RawMessage, len(chunk))
	for i, e := range chunk {
		results[i] = e.body
	}
	err := client.StoreResults(wctx, alisqi.Store{SetID: t.set, KeyField: t.keyField, EditOnly: t.editOnly, AddListOptions: t.addListOptions, Results: results})
	switch {
	case err == nil:
		return
	case !alisqi.IsPermanent(err):
		var ae *alisqi.Error
		retryAt := int64(0)
		if errors.As(err, &ae) && ae.Status == 429 && ae.RetryAfter > 0 {
			retryAt = r.d.now().Add(ae.RetryAfter).Unix()
		}
		for _, e := range chunk {
			e.it.retryAt = retryAt
			e.it.retry(err.Error())
		}
	case len(chunk) == 1:
		if wctx.Err() != nil { // the lease deadline cut the call short: not the record's fault
			chunk[0].it.retry(err.Error())
			return
		}
		what := fmt.Sprintf("AlisQI refused the result for set %d", t.set)
		if t.inspection {
			what = fmt.Sprintf("AlisQI refused the inspection for set %d", t.set)
		}
		chunk[0].it.poison(what+": "+err.Error(), what+": "+err.Error())
	default:
		half := len(chunk) / 2
		r.store(ctx, client, t, chunk[:half])
		r.store(ctx, client, t, chunk[half:])
	}
}
