package store

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	cur := &EntityState{Version: 5, Hash: "h5", Owner: "m1", LeaseUntil: now.Unix() + 30}
	expired := *cur
	expired.LeaseUntil = now.Unix() - 1
	tests := []struct {
		name    string
		current *EntityState
		next    EntityState
		force   bool
		want    Outcome
	}{
		{"first version", nil, EntityState{Version: 1, Hash: "a", Owner: "m9"}, false, Applied},
		{"older", &expired, EntityState{Version: 4, Hash: "x", Owner: "m9"}, false, Stale},
		{"older even forced", &expired, EntityState{Version: 4, Hash: "x", Owner: "m9"}, true, Stale},
		{"duplicate", &expired, EntityState{Version: 5, Hash: "h5", Owner: "m9"}, false, Unchanged},
		{"duplicate while leased", cur, EntityState{Version: 5, Hash: "h5", Owner: "m9"}, false, Unchanged},
		{"same version new mapping", &expired, EntityState{Version: 5, Hash: "h6", Owner: "m9"}, false, Applied},
		{"newer", &expired, EntityState{Version: 6, Hash: "h6", Owner: "m9"}, false, Applied},
		{"newer but leased", cur, EntityState{Version: 6, Hash: "h6", Owner: "m9"}, false, Busy},
		{"retry by owner", cur, EntityState{Version: 5, Hash: "h5", Owner: "m1"}, false, Applied},
		{"replay forced", &expired, EntityState{Version: 5, Hash: "h5", Owner: "m9"}, true, Applied},
		{"replay forced but leased", cur, EntityState{Version: 5, Hash: "h5", Owner: "m9"}, true, Busy},
		{"owner's other run while leased", &EntityState{Version: 5, Hash: "h5", Owner: "m1", Holder: "run-a", LeaseUntil: now.Unix() + 30},
			EntityState{Version: 6, Hash: "h6", Owner: "m1", Holder: "run-b"}, false, Busy},
		{"same run renews", &EntityState{Version: 5, Hash: "h5", Owner: "m1", Holder: "run-a", LeaseUntil: now.Unix() + 30},
			EntityState{Version: 5, Hash: "h5", Owner: "m1", Holder: "run-a"}, false, Applied},
	}
	for _, tt := range tests {
		if got := Decide(tt.current, &tt.next, tt.force, now); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBucket(t *testing.T) {
	rate := Rate{PerMinute: 30}
	t0 := time.Unix(1_000_000, 0)
	var b Bucket
	var wait time.Duration
	for i := 0; i < 30; i++ {
		if b, wait = b.Take(t0, 1, rate); wait != 0 {
			t.Fatalf("token %d refused", i)
		}
	}
	if b, wait = b.Take(t0, 1, rate); wait != 2*time.Second {
		t.Fatalf("empty bucket: wait %v, want 2s (30/min)", wait)
	}
	if b, wait = b.Take(t0.Add(1999*time.Millisecond), 1, rate); wait == 0 {
		t.Fatal("took a token before it refilled")
	}
	if b, wait = b.Take(t0.Add(2*time.Second), 1, rate); wait != 0 {
		t.Fatalf("refilled token refused: %v", wait)
	}
	// Never more than capacity after a long pause.
	b, _ = b.Take(t0.Add(time.Hour), 0, rate)
	if b.MilliTokens != 30_000 {
		t.Errorf("capacity exceeded: %d", b.MilliTokens)
	}
	b = b.Block(t0.Add(time.Hour + 10*time.Second))
	if _, wait = b.Take(t0.Add(time.Hour), 1, rate); wait != 10*time.Second {
		t.Errorf("blocked: wait %v", wait)
	}
	b, wait = b.Take(t0.Add(time.Hour+10*time.Second), 1, rate)
	if wait != 0 {
		t.Errorf("the call Retry-After allows is refused: %v", wait)
	}
	if _, wait = b.Take(t0.Add(time.Hour+10*time.Second), 1, rate); wait != 2*time.Second {
		t.Errorf("after the block the bucket refills at its rate: wait %v", wait)
	}
}
