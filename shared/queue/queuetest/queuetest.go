// Package queuetest is the contract every queue implementation passes.
package queuetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/queue"
)

// Queues is a source queue with its dead-letter queue.
type Queues struct {
	Source      queue.Queue
	DLQ         queue.Queue
	DeadLetters queue.DeadLetters
}

// Config shapes the queues a factory makes.
type Config struct {
	Visibility  time.Duration // whole seconds
	MaxReceives int           // receives before the source redrives to the DLQ
}

// Factory makes a fresh, empty pair of queues.
type Factory func(t *testing.T, cfg Config) Queues

// Run runs the whole contract.
func Run(t *testing.T, newQueues Factory) {
	t.Run("SendReceiveDelete", func(t *testing.T) { testRoundTrip(t, newQueues) })
	t.Run("TooLarge", func(t *testing.T) { testTooLarge(t, newQueues) })
	t.Run("Visibility", func(t *testing.T) { testVisibility(t, newQueues) })
	t.Run("Redrive", func(t *testing.T) { testRedrive(t, newQueues) })
	t.Run("Delay", func(t *testing.T) { testDelay(t, newQueues) })
	t.Run("DeadLetters", func(t *testing.T) { testDeadLetters(t, newQueues) })
}

var ctx = context.Background()

// receiveN receives until n messages arrived or the deadline passed.
func receiveN(t *testing.T, q queue.Queue, n int, within time.Duration) []queue.Message {
	t.Helper()
	var got []queue.Message
	deadline := time.Now().Add(within)
	for len(got) < n && time.Now().Before(deadline) {
		ms, err := q.Receive(ctx, n-len(got), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ms...)
	}
	return got
}

func expectEmpty(t *testing.T, q queue.Queue, what string) {
	t.Helper()
	ms, err := q.Receive(ctx, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 0 {
		t.Fatalf("%s: %d messages still visible", what, len(ms))
	}
}

func testRoundTrip(t *testing.T, newQueues Factory) {
	qs := newQueues(t, Config{Visibility: 30 * time.Second, MaxReceives: 5})
	var out []queue.Outgoing
	for i := 0; i < 25; i++ {
		out = append(out, queue.Outgoing{Body: []byte(fmt.Sprintf(`{"n":%d,"text":"ü\u0001"}`, i)), Attributes: map[string]string{"connection": "acme", "n": fmt.Sprint(i)}})
	}
	if err := qs.Source.Send(ctx, out); err != nil {
		t.Fatal(err)
	}
	got := receiveN(t, qs.Source, 25, 10*time.Second)
	if len(got) != 25 {
		t.Fatalf("received %d of 25", len(got))
	}
	seen := map[string]bool{}
	var receipts []string
	for _, m := range got {
		var i int
		if _, err := fmt.Sscan(m.Attributes["n"], &i); err != nil || !bytes.Equal(m.Body, out[i].Body) {
			t.Errorf("message %q: body %q, attributes %v", m.ID, m.Body, m.Attributes)
		}
		if m.ReceiveCount != 1 || m.ID == "" || m.Receipt == "" || m.SentAt.IsZero() || seen[m.ID] {
			t.Errorf("message %+v", m)
		}
		seen[m.ID] = true
		receipts = append(receipts, m.Receipt)
	}
	if err := qs.Source.Delete(ctx, receipts); err != nil {
		t.Fatal(err)
	}
	expectEmpty(t, qs.Source, "after delete")
}

func testTooLarge(t *testing.T, newQueues Factory) {
	qs := newQueues(t, Config{Visibility: 30 * time.Second, MaxReceives: 5})
	ok := queue.Outgoing{Body: []byte("small")}
	huge := queue.Outgoing{Body: bytes.Repeat([]byte("x"), queue.MaxMessageBytes+1)}
	var tl *queue.TooLargeError
	if err := qs.Source.Send(ctx, []queue.Outgoing{ok, huge}); !errors.As(err, &tl) || tl.Index != 1 {
		t.Fatalf("Send = %v, want TooLargeError for message 1", err)
	}
	expectEmpty(t, qs.Source, "after a refused send")
	// Exactly at the limit is fine.
	edge := queue.Outgoing{Body: bytes.Repeat([]byte("x"), queue.MaxMessageBytes)}
	if err := qs.Source.Send(ctx, []queue.Outgoing{edge}); err != nil {
		t.Fatalf("a message of exactly the limit: %v", err)
	}
	if got := receiveN(t, qs.Source, 1, 5*time.Second); len(got) != 1 || len(got[0].Body) != queue.MaxMessageBytes {
		t.Fatalf("edge message not received whole")
	}
}

func testVisibility(t *testing.T, newQueues Factory) {
	qs := newQueues(t, Config{Visibility: time.Second, MaxReceives: 10})
	if err := qs.Source.Send(ctx, []queue.Outgoing{{Body: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	first := receiveN(t, qs.Source, 1, 5*time.Second)
	if len(first) != 1 {
		t.Fatal("not received")
	}
	expectEmpty(t, qs.Source, "while invisible")
	again := receiveN(t, qs.Source, 1, 5*time.Second) // not deleted: it comes back
	if len(again) != 1 || again[0].ID != first[0].ID || again[0].ReceiveCount != 2 {
		t.Fatalf("after the visibility timeout: %+v", again)
	}
	if err := qs.Source.ChangeVisibility(ctx, again[0].Receipt, 0); err != nil {
		t.Fatal(err)
	}
	third, err := qs.Source.Receive(ctx, 1, 0)
	if err != nil || len(third) != 1 || third[0].ReceiveCount != 3 {
		t.Fatalf("visibility 0 did not release it: %+v %v", third, err)
	}
}

func testRedrive(t *testing.T, newQueues Factory) {
	qs := newQueues(t, Config{Visibility: time.Second, MaxReceives: 2})
	if err := qs.Source.Send(ctx, []queue.Outgoing{{Body: []byte("poison"), Attributes: map[string]string{"connection": "acme"}}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		got := receiveN(t, qs.Source, 1, 5*time.Second)
		if len(got) != 1 || got[0].ReceiveCount != i {
			t.Fatalf("receive %d: %+v", i, got)
		}
		if err := qs.Source.ChangeVisibility(ctx, got[0].Receipt, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The next receive finds it over its max receives: it goes to the DLQ.
	if got, _ := qs.Source.Receive(ctx, 1, 2*time.Second); len(got) != 0 {
		t.Fatalf("received a third time: %+v", got)
	}
	var dls []queue.DeadLetter
	deadline := time.Now().Add(5 * time.Second)
	for len(dls) == 0 && time.Now().Before(deadline) {
		var err error
		if dls, err = qs.DeadLetters.List(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	if len(dls) != 1 || string(dls[0].Body) != "poison" || dls[0].Attributes["connection"] != "acme" {
		t.Fatalf("dead letters = %+v", dls)
	}
	if dls[0].Reason == "" {
		t.Error("a redriven message has no reason")
	}
}

func testDeadLetters(t *testing.T, newQueues Factory) {
	qs := newQueues(t, Config{Visibility: 30 * time.Second, MaxReceives: 5})
	first := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	var out []queue.Outgoing
	for i := 0; i < 3; i++ {
		out = append(out, queue.Outgoing{Body: []byte(fmt.Sprint("dl", i)), Attributes: map[string]string{
			queue.AttrReason: fmt.Sprintf("cannot map items %d: item_code_ (from number): expected a value", i), queue.AttrFlow: "dispatch",
			queue.AttrFirstAttempt: first.Format(time.RFC3339), queue.AttrLastAttempt: first.Add(time.Minute).Format(time.RFC3339),
		}})
	}
	if err := qs.DLQ.Send(ctx, out); err != nil {
		t.Fatal(err)
	}
	dls, err := qs.DeadLetters.List(ctx, 10)
	if err != nil || len(dls) != 3 {
		t.Fatalf("List = %d, %v", len(dls), err)
	}
	// Listing does not consume: a second list sees them all.
	if again, _ := qs.DeadLetters.List(ctx, 10); len(again) != 3 {
		t.Fatalf("second List = %d", len(again))
	}
	byBody := map[string]queue.DeadLetter{}
	for _, d := range dls {
		byBody[string(d.Body)] = d
	}
	d0 := byBody["dl0"]
	if d0.Flow != "dispatch" || d0.Reason != "cannot map items 0: item_code_ (from number): expected a value" || !d0.FirstAttempt.Equal(first) || !d0.LastAttempt.Equal(first.Add(time.Minute)) {
		t.Errorf("dead letter = %+v", d0)
	}
	replayedDL, err := qs.DeadLetters.Replay(ctx, d0.ID)
	if err != nil || replayedDL == nil || string(replayedDL.Body) != "dl0" || replayedDL.Reason != d0.Reason {
		t.Fatalf("Replay = %+v, %v", replayedDL, err)
	}
	replayed := receiveN(t, qs.Source, 1, 5*time.Second)
	if len(replayed) != 1 || string(replayed[0].Body) != "dl0" || replayed[0].Attributes[queue.AttrReplay] != "true" {
		t.Fatalf("replayed = %+v", replayed)
	}
	if dl, err := qs.DeadLetters.Discard(ctx, byBody["dl1"].ID); err != nil || dl == nil || string(dl.Body) != "dl1" || dl.Flow != "dispatch" {
		t.Fatalf("Discard = %+v, %v", dl, err)
	}
	left, _ := qs.DeadLetters.List(ctx, 10)
	if len(left) != 1 || string(left[0].Body) != "dl2" {
		t.Fatalf("left = %+v", left)
	}
	if dl, err := qs.DeadLetters.Replay(ctx, "no-such-id"); err != nil || dl != nil {
		t.Errorf("Replay of an unknown id = %+v, %v", dl, err)
	}
	if dl, _ := qs.DeadLetters.Discard(ctx, d0.ID); dl != nil {
		t.Error("discarded a message that was already replayed")
	}
}

func testDelay(t *testing.T, newQueues Factory) {
	qs := newQueues(t, Config{Visibility: 30 * time.Second, MaxReceives: 5})
	sent := time.Now()
	if err := qs.Source.Send(ctx, []queue.Outgoing{{Body: []byte("later"), Delay: 2 * time.Second}, {Body: []byte("now")}}); err != nil {
		t.Fatal(err)
	}
	first := receiveN(t, qs.Source, 1, 5*time.Second)
	if len(first) != 1 || string(first[0].Body) != "now" {
		t.Fatalf("first = %+v", first)
	}
	later := receiveN(t, qs.Source, 1, 5*time.Second)
	if len(later) != 1 || string(later[0].Body) != "later" {
		t.Fatalf("the delayed message did not arrive: %+v", later)
	}
	if waited := time.Since(sent); waited < 1900*time.Millisecond {
		t.Errorf("the delayed message arrived after %v, want about 2s", waited)
	}
}
