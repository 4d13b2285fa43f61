package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/qbridge/qbridge/shared/envelope"
	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/quality"
	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/store"
)

// decode unpacks every message; an undecodable one is dead-lettered whole.
func (r *run) decode(msgs []queue.Message) {
	for _, m := range msgs {
		msg := &message{m: m, owner: m.ID}
		r.msgs = append(r.msgs, msg)
		env, err := envelope.Unpack(m.Body)
		if env.Retry != nil {
			msg.owner, msg.attempt = env.Retry.Owner, env.Retry.Attempt
		}
		if err != nil {
			it := &item{msg: msg, ev: model.ChangeEvent{ID: m.ID, Connection: m.Attributes[envelope.AttrConnection]}}
			it.poison(err.Error(), err.Error())
			msg.items = append(msg.items, it)
			r.items = append(r.items, it)
			continue
		}
		for _, ev := range env.Events {
			it := &item{msg: msg, ev: ev, owner: msg.owner, force: m.Attributes[queue.AttrReplay] == "true"}
			msg.items = append(msg.items, it)
			r.items = append(r.items, it)
		}
	}
}

// resolve finds each event's connection and entity.
func (r *run) resolve() {
	for _, it := range r.items {
		if it.final() {
			continue
		}
		conn, ok := r.d.Connections.Get(it.ev.Connection)
		if !ok {
			it.poison(fmt.Sprintf("connection %q is not configured in this installation", it.ev.Connection), "unknown connection")
			continue
		}
		it.conn = conn
		if it.entity = conn.Spec.Entity(it.ev.Entity); it.entity == nil {
			reason := fmt.Sprintf("resource %q is not an entity of the spec; add it to the spec or remove its webhook subscription", it.ev.Resource)
			if it.ev.Resource == "" {
				reason = fmt.Sprintf("entity %q is not in the spec", it.ev.Entity)
			}
			it.poison(reason, reason)
		}
	}
}

// expand turns collection notices into one full event per changed record.
func (r *run) expand(ctx context.Context) {
	var added []*item
	for _, it := range r.items {
		if it.final() || !it.ev.Collection {
			continue
		}
		conn, ok := r.d.Connections.Get(it.ev.Connection)
		if !ok {
			continue // resolve dead-letters it
		}
		entity := conn.Spec.Entity(it.ev.Entity)
		if entity == nil {
			continue
		}
		adapter, err := r.d.Connections.Adapter(ctx, conn)
		if err != nil {
			it.retry(err.Error())
			continue
		}
		plan := conn.Plans.Entities[entity.Name]
		var fresh []*item
		err = adapter.Changed(ctx, entity, it.ev.Version, func(recs []map[string]any) error {
			for _, rec := range recs {
				ev := it.ev
				ev.Collection, ev.Thin, ev.Resource, ev.Payload = false, false, "", nil
				key, kerr := plan.Key(rec)
				version, verr := plan.Version(rec)
				ev.Key, ev.Version, ev.ID = key, version, it.ev.ID+"/"+key
				child := &item{msg: it.msg, owner: it.owner, force: it.force, rec: rec, ev: ev}
				switch {
				case kerr != nil:
					child.poison("collection record: "+kerr.Error(), kerr.Error())
				case verr != nil:
					child.poison(verr.Error(), verr.Error())
				}
				fresh = append(fresh, child)
			}
			return nil
		})
		if err != nil {
			it.retry(err.Error())
			continue
		}
		it.finish(Expanded, fmt.Sprintf("%d records changed since the notice", len(fresh)))
		for _, c := range fresh {
			c.msg.items = append(c.msg.items, c)
		}
		added = append(added, fresh...)
	}
	r.items = append(r.items, added...)
}

// coalesce keeps the newest event per entity key.
func (r *run) coalesce() []*item {
	best := map[model.EntityKey]*item{}
	var order []model.EntityKey
	for _, it := range r.items {
		if it.final() {
			continue
		}
		k := it.ev.EntityKey()
		cur, ok := best[k]
		if !ok {
			best[k] = it
			order = append(order, k)
			continue
		}
		winner, loser := cur, it
		if newer(it, cur) {
			winner, loser = it, cur
		}
		winner.force = winner.force || loser.force
		winner.owners = append(append(winner.owners, loser.owner), loser.owners...)
		loser.finish(Coalesced, fmt.Sprintf("superseded by version %d (event %s)", winner.ev.Version, winner.ev.ID))
		best[k] = winner
	}
	out := make([]*item, 0, len(order))
	for _, k := range order {
		out = append(out, best[k])
	}
	return out
}

// newer reports whether a should win over b: a higher version; at equal
// versions a record in hand beats a thin event, then the later arrival.
func newer(a, b *item) bool {
	if a.ev.Version != b.ev.Version {
		return a.ev.Version > b.ev.Version
	}
	aFull, bFull := !a.ev.Thin || a.rec != nil, !b.ev.Thin || b.rec != nil
	if aFull != bFull {
		return aFull
	}
	return !a.ev.ReceivedAt.Before(b.ev.ReceivedAt)
}

// readStates reads every winner's state in one go and skips, before any
// fetch, the events whose version is already applied.
func (r *run) readStates(ctx context.Context, winners []*item) {
	keys := make([]model.EntityKey, 0, len(winners))
	for _, it := range winners {
		keys = append(keys, it.ev.EntityKey())
	}
	states, err := r.d.States.GetMany(ctx, keys)
	if err != nil {
		for _, it := range winners {
			it.retry("state store unavailable: " + err.Error())
		}
		return
	}
	for _, it := range winners {
		if st, ok := states[it.ev.EntityKey()]; ok {
			it.cur = &st
			// A coalesced event that claimed this key earlier hands its
			// claim to the winner: the winner is now that claim's retry.
			if st.Owner != "" && st.Owner != it.owner && slices.Contains(it.owners, st.Owner) {
				it.owner = st.Owner
			}
		}
		r.skipByVersion(it, it.ev.Version)
	}
}

// skipByVersion finishes an event whose version is older than, or (without
// a record to compare) equal to, the applied one. A message's own claim is
// never skipped: that is its retry.
func (r *run) skipByVersion(it *item, version int64) {
	if it.final() || it.cur == nil || it.force || version == 0 || it.cur.Owner == it.owner {
		return
	}
	switch {
	case it.cur.Version > version:
		it.finish(Stale, fmt.Sprintf("version %d is older than the applied %d", version, it.cur.Version))
	case it.cur.Version == version && it.rec == nil && it.ev.Payload == nil && it.ev.Action != model.ActionDeleted:
		it.finish(Unchanged, fmt.Sprintf("version %d is already applied", version))
	}
}

// fetch reads thin events' records, many keys per ERP call.
func (r *run) fetch(ctx context.Context, winners []*item) {
	type group struct {
		items []*item
	}
	groups := map[string]*group{}
	var order []string
	for _, it := range winners {
		if it.final() || !it.ev.Thin || it.rec != nil {
			continue
		}
		g := it.ev.Connection + "\x00" + it.ev.Entity
		if groups[g] == nil {
			groups[g] = &group{}
			order = append(order, g)
		}
		groups[g].items = append(groups[g].items, it)
	}
	for _, g := range order {
		items := groups[g].items
		conn, entity := items[0].conn, items[0].entity
		adapter, err := r.d.Connections.Adapter(ctx, conn)
		if err == nil {
			keys := make([]string, len(items))
			for i, it := range items {
				keys[i] = it.ev.Key
			}
			var recs map[string]map[string]any
			if recs, err = adapter.Fetch(ctx, entity, keys); err == nil {
				for _, it := range items {
					if rec, ok := recs[it.ev.Key]; ok {
						it.rec = rec
					} else {
						// Gone from the ERP since the notice: a deletion.
						it.ev.Action = model.ActionDeleted
					}
				}
				continue
			}
		}
		var me *model.Error
		permanent := errors.As(err, &me) && me.Code == model.EInvalid
		for _, it := range items {
			if permanent {
				it.poison(err.Error(), err.Error())
			} else {
				it.retry("ERP fetch failed: " + err.Error())
			}
		}
	}
}

// prepare maps records, decides against the state and fires triggers.
func (r *run) prepare(winners []*item) {
	now := r.d.now()
	for _, it := range winners {
		if it.final() {
			continue
		}
		if it.ev.Action == model.ActionDeleted {
			r.prepareDelete(it)
			continue
		}
		if it.rec == nil {
			var rec map[string]any
			if err := json.Unmarshal(it.ev.Payload, &rec); err != nil || rec == nil {
				it.poison("the event's record is not a JSON object", "record not an object")
				continue
			}
			it.rec = rec
		}
		plan := it.conn.Plans.Entities[it.entity.Name]
		version, err := plan.Version(it.rec)
		if err != nil {
			it.poison(err.Error(), err.Error())
			continue
		}
		if r.skipByVersion(it, version); it.final() {
			continue
		}
		res, err := plan.Map(it.rec)
		if err != nil {
			it.poison(err.Error(), safeReason(err))
			continue
		}
		it.result = res
		it.body = res.AppendJSON(nil)
		it.next = r.nextState(it, version, res.Hash(), keyValue(res, plan.KeyField()), now)
		switch store.Decide(it.cur, &it.next, it.force, now) {
		case store.Stale:
			it.finish(Stale, fmt.Sprintf("version %d is older than the applied %d", version, it.cur.Version))
			continue
		case store.Unchanged:
			it.finish(Unchanged, "the same content is already in AlisQI")
			continue
		case store.Busy:
			it.retryAt, it.busy = it.cur.LeaseUntil, true
			it.retry("another message is writing this record")
			continue
		}
		var previous map[string]any
		if it.cur != nil {
			previous = it.cur.Previous
		}
		ev := quality.Event{Entity: it.entity.Name, Kind: it.entity.Kind, Key: it.ev.Key, Action: it.ev.Action, Source: it.ev.Source}
		ins, err := it.conn.Triggers.Fire(ev, it.rec, previous)
		if err != nil {
			it.poison(err.Error(), safeReason(err))
			continue
		}
		it.inspections = ins
	}
}

// prepareDelete handles a deletion: audit only, or mark the AlisQI result.
func (r *run) prepareDelete(it *item) {
	if it.entity.OnDelete.Action != "mark" {
		it.finish(Deleted, "deleted in the ERP; AlisQI keeps the result (onDelete: ignore)")
		return
	}
	if it.cur == nil || it.cur.AlisQIKey == "" {
		it.finish(Deleted, "deleted in the ERP before it reached AlisQI")
		return
	}
	fields := it.entity.OnDelete.Fields
	names := make([]string, 0, len(fields)+1)
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	plan := it.conn.Plans.Entities[it.entity.Name]
	vals := []mapping.Value{mapping.String(it.cur.AlisQIKey)}
	for _, n := range names {
		vals = append(vals, mapping.String(fields[n]))
	}
	res := mapping.NewResult(append([]string{plan.KeyField()}, names...), vals)
	it.result, it.body, it.editOnly = res, res.AppendJSON(nil), true
	version := max(it.cur.Version, it.ev.Version)
	it.next = r.nextState(it, version, "deleted:"+res.Hash(), it.cur.AlisQIKey, r.d.now())
	it.next.Previous = it.cur.Previous
	if store.Decide(it.cur, &it.next, it.force, r.d.now()) == store.Unchanged {
		it.finish(Unchanged, "already marked as deleted")
	}
}

func (r *run) nextState(it *item, version int64, hash, alisqiKey string, now time.Time) store.EntityState {
	next := store.EntityState{Key: it.ev.EntityKey(), Version: version, Hash: hash, AlisQIKey: alisqiKey, Owner: it.owner, Holder: r.id,
		LeaseUntil: now.Add(r.d.lease()).Unix()}
	if it.cur != nil {
		next.AlisQIID, next.Decision = it.cur.AlisQIID, it.cur.Decision
	}
	if fields := it.conn.Triggers.PreviousFields(it.entity.Name); len(fields) > 0 && it.rec != nil {
		next.Previous = map[string]any{}
		for _, f := range fields {
			next.Previous[f] = it.rec[f]
		}
	}
	return next
}

func keyValue(res mapping.Result, field string) string {
	v, _ := res.Get(field)
	return v.Text()
}

// safeReason describes an error for logs without record values.
func safeReason(err error) string {
	var me *mapping.Error
	if errors.As(err, &me) {
		parts := make([]string, len(me.Fields))
		for i, f := range me.Fields {
			parts[i] = f.Field + " expected " + f.Expected
		}
		return "cannot map " + me.Entity + ": " + strings.Join(parts, "; ")
	}
	return err.Error()
}
