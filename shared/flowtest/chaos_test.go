package flowtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/dispatch"
	"github.com/qbridge/qbridge/shared/erp/generic"
	"github.com/qbridge/qbridge/shared/sandbox/alisqisandbox"
	"github.com/qbridge/qbridge/shared/spec"
)

const genericSpec = "../../testdata/specs/generic.yaml"

type chaosEvent struct {
	id      string
	key     string
	version int
	poison  bool
	body    map[string]any
}

// TestChaos: 2,000 events over 300 keys, each delivered three times in
// shuffled order, two dispatchers at once, AlisQI failing 20% of calls with
// 5xx plus 429s and timeouts after the write was applied. AlisQI must end
// holding exactly the newest version of every key, and every event must be
// accounted for.
func TestChaos(t *testing.T) {
	h := harness(t, Options{SpecFile: genericSpec, Visibility: 2 * time.Second, MaxReceives: 50, HTTPTimeout: time.Second, Quiet: true,
		Modify: func(s *spec.Spec) { s.AlisQI.CallsPerMinute = 100000; s.AlisQI.BatchSize = 200 }})
	h.AlisQI.SetFaults(alisqisandbox.Faults{ServerErrorRate: 0.2, ThrottleRate: 0.05, RetryAfter: time.Second,
		TimeoutAfterCommitRate: 0.05, HangFor: 1500 * time.Millisecond}, 42)
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

	// Versions per key: 300 keys, 2,000 events; about 1% are unmappable
	// (no name), never a key's newest version.
	var evs []chaosEvent
	newest := map[string]int{}
	for i := 0; i < 2000; i++ {
		key := fmt.Sprintf("NW-%03d", i%300)
		v := i/300 + 1
		newest[key] = v
		evs = append(evs, chaosEvent{key: key, version: v})
	}
	for i := range evs {
		e := &evs[i]
		e.poison = e.version < newest[e.key] && rng.IntN(100) == 0
		rec := map[string]any{"sku": e.key, "name": fmt.Sprintf("Item %s v%d", e.key, e.version), "revision": e.version,
			"changedAt": base.Add(time.Duration(e.version) * time.Minute).Format(time.RFC3339)}
		if e.poison {
			delete(rec, "name")
		}
		e.body = map[string]any{"entity": "items", "action": "updated", "record": rec}
		e.id = generic.EventID("northwind", "items", e.key, "updated", base.Add(time.Duration(e.version)*time.Minute).UnixMicro(), mustJSON(rec))
	}

	// Three deliveries of each, shuffled, in requests of 1 to 40 events.
	var deliveries []chaosEvent
	for r := 0; r < 3; r++ {
		deliveries = append(deliveries, evs...)
	}
	rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now().Add(-time.Second)
	done := make(chan error, 1)
	go func() { done <- h.Drain(ctx, 2, 50) }()
	for len(deliveries) > 0 {
		n := min(len(deliveries), 1+rng.IntN(40))
		var batch []map[string]any
		for _, d := range deliveries[:n] {
			batch = append(batch, d.body)
		}
		deliveries = deliveries[n:]
		postSigned(t, h, map[string]any{"events": batch})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := h.Drain(ctx, 2, 50); err != nil { // anything sent after the first drain saw an empty queue
		t.Fatal(err)
	}

	// AlisQI holds exactly the newest version of every key.
	results := h.AlisQI.Results(11)
	if len(results) != 300 {
		t.Errorf("AlisQI has %d items, want 300", len(results))
	}
	held := map[string]bool{}
	for _, r := range results {
		key := fmt.Sprint(r["item_code_"])
		held[key] = true
		if want := newest[key]; r["revision_"] != float64(want) || r["description_"] != fmt.Sprintf("Item %s v%d", key, want) {
			t.Errorf("%s: AlisQI holds revision %v (%v), want %d", key, r["revision_"], r["description_"], want)
			history(t, h, key)
		}
	}
	for key := range newest {
		if !held[key] {
			t.Errorf("%s is not in AlisQI", key)
			history(t, h, key)
		}
	}

	// Every event is accounted for, with a final outcome.
	recs, err := h.Audit(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	final := map[string]string{}
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.Outcome]++
		if r.Outcome != dispatch.Retried {
			final[r.Key+"@"+fmt.Sprint(r.Version)] = r.Outcome
		}
	}
	missing := 0
	for _, e := range evs {
		v := base.Add(time.Duration(e.version) * time.Minute).UnixMicro()
		outcome, ok := final[e.key+"@"+fmt.Sprint(v)]
		switch {
		case !ok:
			missing++
		case e.poison && outcome != dispatch.DeadLettered && outcome != dispatch.Stale && outcome != dispatch.Coalesced:
			t.Errorf("poison event %s v%d ended %s", e.key, e.version, outcome)
		case !e.poison && outcome == dispatch.DeadLettered:
			t.Errorf("good event %s v%d was dead-lettered", e.key, e.version)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d events have no final outcome in the audit trail", missing, len(evs))
	}
	injected := map[string]int{}
	for _, c := range h.AlisQI.Calls() {
		injected[c.Injected]++
	}
	t.Logf("outcomes %v; AlisQI calls %d (injected %v)", counts, h.AlisQI.CountCalls(""), injected)
	if injected["5xx"] == 0 || injected["429"] == 0 || injected["timeoutAfterCommit"] == 0 {
		t.Errorf("the chaos was not injected: %v", injected)
	}
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func postSigned(t *testing.T, h *Harness, body any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	ts, sig := generic.Sign(Credentials.WebhookSecret, time.Now(), raw)
	req, _ := http.NewRequest(http.MethodPost, h.EventsURL(), bytes.NewReader(raw))
	req.Header.Set(generic.HeaderTimestamp, ts)
	req.Header.Set(generic.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("ingest answered %d", resp.StatusCode)
	}
}

// history logs a key's audit trail, oldest first, to explain a failure.
func history(t *testing.T, h *Harness, key string) {
	recs, err := h.Store.ByKey(context.Background(), h.Key("items", key), time.Now().Add(-time.Hour), 1000)
	if err != nil {
		t.Logf("  (no history: %v)", err)
		return
	}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		t.Logf("  %s %s v%d by %s: %s %s", r.Time.Format("15:04:05.000"), key, r.Version, r.MessageID, r.Outcome, r.Detail)
	}
}
