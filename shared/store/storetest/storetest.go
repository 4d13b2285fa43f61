// Package storetest is the contract every store implementation passes:
// run it from each implementation's tests with a factory for fresh stores.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/store"
)

// Stores is one set of ports backed by one fresh, empty store.
type Stores struct {
	States      store.EntityStates
	Idempotency store.Idempotency
	Watermarks  store.Watermarks
	Audit       store.Audit
	Limiter     store.RateLimiter
}

// Clock is a settable clock the stores under test must use for "now".
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// Factory makes fresh stores that read time from clock.
type Factory func(t *testing.T, clock *Clock) Stores

// Run runs the whole contract.
func Run(t *testing.T, newStores Factory) {
	t.Run("EntityStates", func(t *testing.T) { testEntityStates(t, newStores) })
	t.Run("EntityStatesConcurrent", func(t *testing.T) { testEntityStatesConcurrent(t, newStores) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, newStores) })
	t.Run("IdempotencyRace", func(t *testing.T) { testIdempotencyRace(t, newStores) })
	t.Run("Watermarks", func(t *testing.T) { testWatermarks(t, newStores) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, newStores) })
	t.Run("RateLimiter", func(t *testing.T) { testRateLimiter(t, newStores) })
}

func key(k string) model.EntityKey {
	return model.EntityKey{Connection: "acme", Entity: "items", Key: k}
}

func testEntityStates(t *testing.T, newStores Factory) {
	ctx := context.Background()
	clock := NewClock()
	s := newStores(t, clock).States

	// GetMany over more keys than one BatchGetItem takes.
	var keys []model.EntityKey
	for i := 0; i < 250; i++ {
		keys = append(keys, key(fmt.Sprintf("k%03d", i)))
	}
	got, err := s.GetMany(ctx, keys)
	if err != nil || len(got) != 0 {
		t.Fatalf("GetMany on empty store = %v, %v", got, err)
	}
	for i, k := range keys {
		if i%2 == 0 {
			mustApply(t, s, store.EntityState{Key: k, Version: 1, Hash: "h", Owner: "m-" + k.Key}, false, store.Applied)
		}
	}
	got, err = s.GetMany(ctx, keys)
	if err != nil || len(got) != 125 {
		t.Fatalf("GetMany = %d states, %v; want 125", len(got), err)
	}
	if st := got[key("k248")]; st.Version != 1 || st.Hash != "h" || st.Owner != "m-k248" {
		t.Errorf("k248 = %+v", st)
	}

	k := key("item-1")
	prev := map[string]any{"status": "Released", "qty": 12.5}
	first := store.EntityState{Key: k, Version: 10, Hash: "a", AlisQIID: "77", AlisQIKey: "1896-S", Previous: prev, Owner: "m1", LeaseUntil: clock.Now().Unix() + 60}
	mustApply(t, s, first, false, store.Applied)
	st := getOne(t, s, k)
	if st.Version != 10 || st.Hash != "a" || st.AlisQIID != "77" || st.AlisQIKey != "1896-S" || st.Owner != "m1" || st.LeaseUntil != first.LeaseUntil || !reflect.DeepEqual(st.Previous, prev) {
		t.Errorf("stored = %+v", st)
	}

	// While m1 holds the lease: duplicates are unchanged, others busy, m1 may retry.
	cur := mustApply(t, s, store.EntityState{Key: k, Version: 10, Hash: "a", Owner: "m2"}, false, store.Unchanged)
	if cur == nil || cur.Owner != "m1" || cur.Version != 10 {
		t.Errorf("unchanged must return the stored state, got %+v", cur)
	}
	mustApply(t, s, store.EntityState{Key: k, Version: 11, Hash: "b", Owner: "m2"}, false, store.Busy)
	mustApply(t, s, store.EntityState{Key: k, Version: 9, Hash: "z", Owner: "m2"}, false, store.Stale)
	mustApply(t, s, store.EntityState{Key: k, Version: 10, Hash: "a", Owner: "m1", LeaseUntil: clock.Now().Unix() + 60}, false, store.Applied)

	clock.Advance(61 * time.Second) // the lease runs out
	mustApply(t, s, store.EntityState{Key: k, Version: 10, Hash: "a", Owner: "m3"}, false, store.Unchanged)
	mustApply(t, s, store.EntityState{Key: k, Version: 10, Hash: "a", Owner: "m3"}, true, store.Applied)  // a replay
	mustApply(t, s, store.EntityState{Key: k, Version: 10, Hash: "c", Owner: "m4"}, false, store.Applied) // new mapping, same version
	cur = mustApply(t, s, store.EntityState{Key: k, Version: 8, Hash: "x", Owner: "m5"}, true, store.Stale)
	if cur == nil || cur.Hash != "c" {
		t.Errorf("stale must return the stored state, got %+v", cur)
	}
	mustApply(t, s, store.EntityState{Key: k, Version: 12, Hash: "d", Owner: "m6"}, false, store.Applied)

	// Restore: only the lease holder (here the owner), back to the previous
	// state or to nothing.
	before := getOne(t, s, k)
	mustApply(t, s, store.EntityState{Key: k, Version: 13, Hash: "e", Owner: "m7"}, false, store.Applied)
	if err := s.Restore(ctx, k, "someone-else", &before); err != nil {
		t.Fatal(err)
	}
	if getOne(t, s, k).Version != 13 {
		t.Error("Restore by a non-owner changed the state")
	}
	if err := s.Restore(ctx, k, "m7", &before); err != nil {
		t.Fatal(err)
	}
	if st := getOne(t, s, k); st.Version != 12 || st.Hash != "d" || st.Owner != "m6" {
		t.Errorf("restored = %+v", st)
	}
	k2 := key("item-2")
	mustApply(t, s, store.EntityState{Key: k2, Version: 1, Hash: "a", Owner: "m8"}, false, store.Applied)
	if err := s.Restore(ctx, k2, "m8", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetMany(ctx, []model.EntityKey{k2}); len(got) != 0 {
		t.Errorf("Restore(nil) left %+v", got)
	}

	// Two runs of one claim (a message redelivered while in work) do not
	// share a lease: the claim's other run waits, the holding run goes on,
	// and only the holding run may put the state back.
	k3 := key("item-3")
	mustApply(t, s, store.EntityState{Key: k3, Version: 1, Hash: "a", Owner: "m1", Holder: "run-1", LeaseUntil: clock.Now().Unix() + 60}, false, store.Applied)
	if st := getOne(t, s, k3); st.Holder != "run-1" || st.Owner != "m1" {
		t.Errorf("stored = %+v", st)
	}
	mustApply(t, s, store.EntityState{Key: k3, Version: 2, Hash: "b", Owner: "m1", Holder: "run-2"}, false, store.Busy)
	mustApply(t, s, store.EntityState{Key: k3, Version: 2, Hash: "b", Owner: "m1", Holder: "run-1", LeaseUntil: clock.Now().Unix() + 60}, false, store.Applied)
	for _, holder := range []string{"run-2", "m1"} {
		if err := s.Restore(ctx, k3, holder, nil); err != nil {
			t.Fatal(err)
		}
		if getOne(t, s, k3).Version != 2 {
			t.Errorf("Restore by %s, not the lease holder, changed the state", holder)
		}
	}
	if err := s.Restore(ctx, k3, "run-1", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetMany(ctx, []model.EntityKey{k3}); len(got) != 0 {
		t.Errorf("Restore by the holder left %+v", got)
	}
}

func mustApply(t *testing.T, s store.EntityStates, next store.EntityState, force bool, want store.Outcome) *store.EntityState {
	t.Helper()
	got, cur, err := s.Apply(context.Background(), next, force)
	if err != nil {
		t.Fatalf("Apply(%+v): %v", next, err)
	}
	if got != want {
		t.Fatalf("Apply(v%d %s by %s, force=%v) = %v, want %v", next.Version, next.Hash, next.Owner, force, got, want)
	}
	if got != store.Applied && cur == nil {
		t.Fatalf("Apply %v returned no current state", got)
	}
	return cur
}

func getOne(t *testing.T, s store.EntityStates, k model.EntityKey) store.EntityState {
	t.Helper()
	got, err := s.GetMany(context.Background(), []model.EntityKey{k})
	if err != nil {
		t.Fatal(err)
	}
	st, ok := got[k]
	if !ok {
		t.Fatalf("%v not stored", k)
	}
	return st
}

// 20 goroutines apply versions of one key; the newest must win.
func testEntityStatesConcurrent(t *testing.T, newStores Factory) {
	s := newStores(t, NewClock()).States
	k := key("hot")
	var wg sync.WaitGroup
	var applied atomic.Int32
	errs := make(chan error, 20)
	for v := 1; v <= 20; v++ {
		wg.Add(1)
		go func(v int) {
			defer wg.Done()
			out, _, err := s.Apply(context.Background(), store.EntityState{Key: k, Version: int64(v), Hash: fmt.Sprint(v), Owner: fmt.Sprint("m", v)}, false)
			if err != nil {
				errs <- err
				return
			}
			if out == store.Applied {
				applied.Add(1)
			}
		}(v)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := getOne(t, s, k); st.Version != 20 || st.Hash != "20" {
		t.Errorf("final state v%d %s, want v20", st.Version, st.Hash)
	}
	if applied.Load() < 1 {
		t.Error("nothing applied")
	}
}

func testIdempotency(t *testing.T, newStores Factory) {
	ctx := context.Background()
	clock := NewClock()
	s := newStores(t, clock).Idempotency
	const lease, expiry = 30 * time.Second, time.Hour

	b := begin(t, s, "block:lot-1", lease, expiry, store.New)
	if b.LeaseUntil != clock.Now().Unix()+30 {
		t.Errorf("lease until %d, want now+30s", b.LeaseUntil)
	}
	b = begin(t, s, "block:lot-1", lease, expiry, store.InProgress)
	if b.LeaseUntil != clock.Now().Unix()+30 {
		t.Errorf("in-progress lease %d", b.LeaseUntil)
	}
	if err := s.Complete(ctx, "block:lot-1", []byte(`{"etag":"W/1"}`), expiry); err != nil {
		t.Fatal(err)
	}
	b = begin(t, s, "block:lot-1", lease, expiry, store.Completed)
	if string(b.Result) != `{"etag":"W/1"}` {
		t.Errorf("result = %q", b.Result)
	}
	clock.Advance(59 * time.Minute)
	begin(t, s, "block:lot-1", lease, expiry, store.Completed)
	clock.Advance(2 * time.Minute) // past the expiry
	begin(t, s, "block:lot-1", lease, expiry, store.New)

	// A crashed holder's lease runs out and the next caller takes over.
	begin(t, s, "block:lot-2", lease, expiry, store.New)
	clock.Advance(29 * time.Second)
	begin(t, s, "block:lot-2", lease, expiry, store.InProgress)
	clock.Advance(2 * time.Second)
	begin(t, s, "block:lot-2", lease, expiry, store.New)

	// Release after a failure lets the next caller try at once.
	begin(t, s, "block:lot-3", lease, expiry, store.New)
	if err := s.Release(ctx, "block:lot-3"); err != nil {
		t.Fatal(err)
	}
	begin(t, s, "block:lot-3", lease, expiry, store.New)

	// A sub-second lease is rounded up, never down to nothing.
	begin(t, s, "block:lot-4", 300*time.Millisecond, expiry, store.New)
	begin(t, s, "block:lot-4", lease, expiry, store.InProgress)
}

func begin(t *testing.T, s store.Idempotency, k string, lease, expiry time.Duration, want store.IdempotencyStatus) store.Begun {
	t.Helper()
	b, err := s.Begin(context.Background(), k, lease, expiry)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != want {
		t.Fatalf("Begin(%s) = %v, want %v", k, b.Status, want)
	}
	return b
}

// 20 racing Begin calls on one key let exactly one through.
func testIdempotencyRace(t *testing.T, newStores Factory) {
	s := newStores(t, NewClock()).Idempotency
	var wg sync.WaitGroup
	var news, inProgress atomic.Int32
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := s.Begin(context.Background(), "release:lot-9", time.Minute, time.Hour)
			if err != nil {
				errs <- err
				return
			}
			switch b.Status {
			case store.New:
				news.Add(1)
			case store.InProgress:
				inProgress.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if news.Load() != 1 || inProgress.Load() != 19 {
		t.Errorf("%d new, %d in progress; want exactly 1 and 19", news.Load(), inProgress.Load())
	}
}

func testWatermarks(t *testing.T, newStores Factory) {
	ctx := context.Background()
	s := newStores(t, NewClock()).Watermarks
	if _, err := s.Get(ctx, "pull-items"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get on empty = %v, want ErrNotFound", err)
	}
	steps := []struct {
		value int64
		moved bool
		after int64
	}{{100, true, 100}, {50, false, 100}, {100, false, 100}, {250, true, 250}}
	for _, st := range steps {
		moved, err := s.Advance(ctx, "pull-items", st.value)
		if err != nil {
			t.Fatal(err)
		}
		w, err := s.Get(ctx, "pull-items")
		if err != nil {
			t.Fatal(err)
		}
		if moved != st.moved || w.Value != st.after || w.Job != "pull-items" {
			t.Errorf("Advance(%d) = %v → %d, want %v → %d", st.value, moved, w.Value, st.moved, st.after)
		}
	}
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func(v int64) {
			defer wg.Done()
			if _, err := s.Advance(ctx, "pull-race", v); err != nil {
				t.Error(err)
			}
		}(int64(i * 1000))
	}
	wg.Wait()
	if w, _ := s.Get(ctx, "pull-race"); w.Value != 20000 {
		t.Errorf("racing advances ended at %d, want 20000", w.Value)
	}
}

func testAudit(t *testing.T, newStores Factory) {
	ctx := context.Background()
	clock := NewClock()
	s := newStores(t, clock).Audit
	t0 := clock.Now()
	var recs []store.AuditRecord
	for i := 0; i < 30; i++ {
		recs = append(recs, store.AuditRecord{
			Time: t0.Add(time.Duration(i) * time.Minute), Connection: "acme", Flow: "dispatch",
			Entity: "items", Key: fmt.Sprintf("k%d", i%3), Outcome: "applied", Version: int64(i), MessageID: fmt.Sprint("m", i), LatencyMs: int64(100 + i),
		})
	}
	recs = append(recs, store.AuditRecord{Time: t0.Add(5 * time.Minute), Connection: "other", Flow: "dispatch", Entity: "items", Key: "k0", Outcome: "stale"})
	if err := s.Append(ctx, recs[:10]); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, recs[10:]); err != nil {
		t.Fatal(err)
	}
	got, err := s.ByKey(ctx, key("k1"), t0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || got[0].Version != 28 || got[9].Version != 1 || got[0].Key != "k1" {
		t.Errorf("ByKey k1 = %d records, first %+v", len(got), first(got))
	}
	got, _ = s.ByKey(ctx, key("k0"), t0.Add(20*time.Minute), 2)
	if len(got) != 2 || got[0].Version != 27 || got[1].Version != 24 {
		t.Errorf("ByKey k0 since +20m limit 2 = %+v", got)
	}
	got, _ = s.Since(ctx, "acme", t0.Add(25*time.Minute), 100)
	if len(got) != 5 || got[0].Version != 29 || got[4].Version != 25 {
		t.Errorf("Since +25m = %+v", got)
	}
	for _, r := range got {
		if r.Connection != "acme" || r.MessageID == "" || r.Time.IsZero() || r.LatencyMs != 100+r.Version {
			t.Errorf("record lost fields: %+v", r)
		}
	}
	got, _ = s.Since(ctx, "other", t0, 100)
	if len(got) != 1 || got[0].Outcome != "stale" {
		t.Errorf("Since other = %+v", got)
	}
	if !got[0].Time.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("time round trip: %v", got[0].Time)
	}
}

func first(rs []store.AuditRecord) any {
	if len(rs) == 0 {
		return nil
	}
	return rs[0]
}

func testRateLimiter(t *testing.T, newStores Factory) {
	ctx := context.Background()
	clock := NewClock()
	s := newStores(t, clock).Limiter
	rate := store.Rate{PerMinute: 10}

	// 20 goroutines race for a 10-token bucket: exactly 10 get through.
	var wg sync.WaitGroup
	var taken atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait, err := s.Take(ctx, "alisqi:acme", 1, rate)
			if err != nil {
				t.Error(err)
				return
			}
			if wait == 0 {
				taken.Add(1)
			} else if wait > 6*time.Second {
				t.Errorf("wait %v for one token at 10/min", wait)
			}
		}()
	}
	wg.Wait()
	if taken.Load() != 10 {
		t.Fatalf("%d tokens taken from a bucket of 10", taken.Load())
	}
	if n, _, err := s.Budget(ctx, "alisqi:acme", rate); err != nil || n != 0 {
		t.Errorf("Budget of an empty bucket = %d, %v", n, err)
	}
	if n, _, _ := s.Budget(ctx, "alisqi:unused", rate); n != 10 {
		t.Errorf("Budget of a new bucket = %d, want 10", n)
	}
	clock.Advance(6 * time.Second) // one token back
	if wait, _ := s.Take(ctx, "alisqi:acme", 1, rate); wait != 0 {
		t.Errorf("refilled token refused, wait %v", wait)
	}
	if wait, _ := s.Take(ctx, "alisqi:acme", 1, rate); wait == 0 {
		t.Error("took a token that was not there")
	}
	if wait, _ := s.Take(ctx, "alisqi:other", 1, rate); wait != 0 {
		t.Error("buckets are not separate")
	}
	if err := s.Block(ctx, "alisqi:other", clock.Now().Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, until, _ := s.Budget(ctx, "alisqi:other", rate); n != 0 || !until.Equal(clock.Now().Add(20*time.Second)) {
		t.Errorf("Budget of a blocked bucket = %d until %v", n, until)
	}
	if wait, _ := s.Take(ctx, "alisqi:other", 1, rate); wait < 19*time.Second {
		t.Errorf("blocked bucket: wait %v", wait)
	}
	clock.Advance(27 * time.Second)
	if wait, _ := s.Take(ctx, "alisqi:other", 1, rate); wait != 0 {
		t.Errorf("after the block: wait %v", wait)
	}
}
