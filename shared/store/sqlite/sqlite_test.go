package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/sqlitedb"
	"github.com/qbridge/qbridge/shared/store"
	"github.com/qbridge/qbridge/shared/store/storetest"
)

func open(t *testing.T, path string, clock *storetest.Clock) *Store {
	t.Helper()
	db, err := sqlitedb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := New(db, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) storetest.Stores {
		s := open(t, filepath.Join(t.TempDir(), "state.db"), clock)
		return storetest.Stores{States: s, Idempotency: s, Watermarks: s, Audit: s, Limiter: s}
	})
}

// State written by one process is there after a restart.
func TestSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	clock := storetest.NewClock()
	ctx := context.Background()
	k := model.EntityKey{Connection: "c", Entity: "items", Key: "1"}
	{
		db, err := sqlitedb.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := New(db, clock.Now)
		if out, _, err := s.Apply(ctx, store.EntityState{Key: k, Version: 3, Hash: "h", Owner: "m"}, false); err != nil || out != store.Applied {
			t.Fatal(out, err)
		}
		if _, err := s.Advance(ctx, "job", 42); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	s := open(t, path, clock)
	got, err := s.GetMany(ctx, []model.EntityKey{k})
	if err != nil || got[k].Version != 3 {
		t.Errorf("after restart: %+v %v", got, err)
	}
	if w, err := s.Get(ctx, "job"); err != nil || w.Value != 42 {
		t.Errorf("watermark after restart: %+v %v", w, err)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), storetest.NewClock())
	ctx := context.Background()
	if err := s.Append(ctx, []store.AuditRecord{{Time: time.Now(), Connection: "c", Flow: "dispatch", Entity: "e", Key: "k", Outcome: "applied"}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit SET outcome = 'x'`, `DELETE FROM audit`} {
		if _, err := s.db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v", q, err)
		}
	}
}
