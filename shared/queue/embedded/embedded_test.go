package embedded

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/queue/queuetest"
	"github.com/qbridge/qbridge/shared/sqlitedb"
)

func broker(t *testing.T, path string) *Broker {
	t.Helper()
	db, err := sqlitedb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := NewBroker(db)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, cfg queuetest.Config) queuetest.Queues {
		b := broker(t, filepath.Join(t.TempDir(), "q.db"))
		dlq := b.Queue("inbound-dlq", Config{})
		src := b.Queue("inbound", Config{Visibility: cfg.Visibility, MaxReceives: cfg.MaxReceives, DeadLetter: "inbound-dlq"})
		return queuetest.Queues{Source: src, DLQ: dlq, DeadLetters: b.DeadLetters(dlq, src)}
	})
}

// Messages survive a restart; one in flight comes back when its visibility
// runs out, so stopping the runner mid-batch loses nothing.
func TestSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	ctx := context.Background()
	cfg := Config{Visibility: time.Second}
	b1 := broker(t, path)
	q1 := b1.Queue("inbound", cfg)
	if err := q1.Send(ctx, []queue.Outgoing{{Body: []byte("a")}, {Body: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	if got, err := q1.Receive(ctx, 1, 0); err != nil || len(got) != 1 {
		t.Fatalf("receive: %v %v", got, err)
	}
	q2 := broker(t, path).Queue("inbound", cfg)
	seen := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		more, err := q2.Receive(ctx, 10, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range more {
			seen[string(m.Body)] = true
		}
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("after restart got %v, want a and b", seen)
	}
	if v, f, _ := q2.Depth(ctx); v+f != 2 {
		t.Errorf("depth %d+%d", v, f)
	}
	if old, _ := q2.Oldest(ctx); old <= 0 {
		t.Errorf("oldest %v", old)
	}
}

// Send wakes a waiting receiver at once rather than at its next poll.
func TestLongPollWakes(t *testing.T) {
	q := broker(t, filepath.Join(t.TempDir(), "q.db")).Queue("inbound", Config{})
	done := make(chan []queue.Message)
	go func() {
		got, _ := q.Receive(context.Background(), 10, 10*time.Second)
		done <- got
	}()
	// Send only once the receiver waits, so the wake-up is what is tested.
	for deadline := time.Now().Add(5 * time.Second); ; {
		q.b.mu.Lock()
		waiting := len(q.b.waiters["inbound"]) > 0
		q.b.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("receiver never waited")
		}
		runtime.Gosched()
	}
	start := time.Now()
	if err := q.Send(context.Background(), []queue.Outgoing{{Body: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if len(got) != 1 {
			t.Fatalf("got %d", len(got))
		}
		if waited := time.Since(start); waited > 2*time.Second {
			t.Errorf("receiver woke after %v", waited)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("receiver never woke")
	}
}
