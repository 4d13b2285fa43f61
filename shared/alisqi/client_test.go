package alisqi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/alisqi"
	"github.com/qbridge/qbridge/shared/sandbox/alisqisandbox"
	"github.com/qbridge/qbridge/shared/sqlitedb"
	"github.com/qbridge/qbridge/shared/store/sqlite"
)

const token = "tok-3f9a-SECRET"

func sandbox(t *testing.T) (*alisqisandbox.Server, string) {
	t.Helper()
	sb := alisqisandbox.New(token)
	sb.SetLimit(0)
	sb.AddSet(alisqi.SetDefinition{ID: 101, Name: "Items", Fields: []alisqi.FieldDef{
		{Name: "item_code_", Type: "text"}, {Name: "description_", Type: "text"}, {Name: "weight_", Type: "number"},
		{Name: "unit_", Type: "list", Options: []string{"Pieces", "Kilogram"}},
	}}, "selectionList")
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	return sb, srv.URL + "/api/"
}

func client(t *testing.T, base string, mod ...func(*alisqi.Config)) *alisqi.Client {
	t.Helper()
	cfg := alisqi.Config{BaseURL: base, Token: token, HTTP: &http.Client{Timeout: 2 * time.Second}}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := alisqi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func raw(vs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		out[i] = json.RawMessage(v)
	}
	return out
}

func TestStoreAndRead(t *testing.T) {
	sb, base := sandbox(t)
	c := client(t, base)
	ctx := context.Background()
	err := c.StoreResults(ctx, alisqi.Store{SetID: 101, KeyField: "item_code_", Results: raw(
		`{"item_code_":"A","description_":"first","weight_":1.5,"unit_":"Pieces"}`,
		`{"item_code_":"B","description_":"second","unit_":"Kilogram"}`)})
	if err != nil {
		t.Fatal(err)
	}
	// Upsert: A changes, C is new; B untouched.
	if err := c.StoreResults(ctx, alisqi.Store{SetID: 101, KeyField: "item_code_", Results: raw(`{"item_code_":"A","description_":"changed"}`, `{"item_code_":"C","description_":"third"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := sb.Results(101); len(got) != 3 {
		t.Fatalf("%d results", len(got))
	}
	if a, _ := sb.Result(101, "item_code_", "A"); a["description_"] != "changed" || a["weight_"] != 1.5 {
		t.Errorf("A = %v", a)
	}
	// editOnly never inserts.
	if err := c.StoreResults(ctx, alisqi.Store{SetID: 101, KeyField: "item_code_", EditOnly: true, Results: raw(`{"item_code_":"Z","description_":"ghost"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := sb.Result(101, "item_code_", "Z"); ok {
		t.Error("editOnly inserted")
	}
	page, err := c.GetResults(ctx, alisqi.ResultsQuery{SetID: 101, Filter: map[string]any{"item_code_": []map[string]any{{"value": "A"}, {"value": "C"}}}, Sort: "-item_code_", Fields: []string{"item_code_"}, IncludeID: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0]["item_code_"] != "C" || page[0]["description_"] != nil || page[0]["@id"] == nil {
		t.Errorf("getResults = %v", page)
	}
	if page, _ := c.GetResults(ctx, alisqi.ResultsQuery{SetID: 101, Limit: 2, Offset: 2}); len(page) != 1 {
		t.Errorf("paging: %d", len(page))
	}
	sets, err := c.GetAllSets(ctx)
	if err != nil || len(sets) != 1 || sets[0].ID != 101 || sets[0].Type != "selectionList" {
		t.Errorf("getAllSets = %v %v", sets, err)
	}
	def, err := c.GetSetDefinition(ctx, 101)
	if err != nil || def.Field("unit_") == nil || len(def.Field("unit_").Options) != 2 {
		t.Errorf("getSetDefinition = %+v %v", def, err)
	}
}

// A rejected call applies nothing, is permanent and is not retried.
func TestRejectionIsPermanent(t *testing.T) {
	sb, base := sandbox(t)
	c := client(t, base)
	err := c.StoreResults(context.Background(), alisqi.Store{SetID: 101, KeyField: "item_code_", Results: raw(
		`{"item_code_":"A","unit_":"Pieces"}`, `{"item_code_":"B","unit_":"Barrel"}`)})
	var e *alisqi.Error
	if !errors.As(err, &e) || e.Status != 400 || !e.Permanent() || !alisqi.IsPermanent(err) || !strings.Contains(e.Message, `Option "Barrel" is not valid for field unit_`) {
		t.Fatalf("err = %v", err)
	}
	if len(sb.Results(101)) != 0 {
		t.Error("a rejected call applied results")
	}
	if n := sb.CountCalls("storeResults"); n != 1 {
		t.Errorf("%d calls, want 1 (no retry)", n)
	}
	// With addListOptions the option is added.
	if err := c.StoreResults(context.Background(), alisqi.Store{SetID: 101, KeyField: "item_code_", AddListOptions: true, Results: raw(`{"item_code_":"B","unit_":"Barrel"}`)}); err != nil {
		t.Fatal(err)
	}
}

func TestRetriesServerErrorsAndWaitsOut429(t *testing.T) {
	var calls atomic.Int32
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		times = append(times, time.Now())
		switch n {
		case 1:
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`{"error":"maintenance"}`))
		case 2:
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Retry-After", "1")
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"error":"Too many requests"}`))
		default:
			_, _ = w.Write([]byte(`[]`))
		}
	}))
	defer srv.Close()
	db, _ := sqlitedb.Open(filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	limiter, _ := sqlite.New(db, nil)
	c := client(t, srv.URL, func(cfg *alisqi.Config) { cfg.Limiter = limiter })
	if _, err := c.GetResults(context.Background(), alisqi.ResultsQuery{SetID: 1}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || c.Calls() != 3 || c.Throttled() != 1 {
		t.Fatalf("%d calls (want 3), %d throttled (want 1)", calls.Load(), c.Throttled())
	}
	if gap := times[2].Sub(times[1]); gap < 900*time.Millisecond {
		t.Errorf("retried %v after a 429 with Retry-After 1", gap)
	}
}

func TestAuthFailureIsNotPoisonAndNotRetried(t *testing.T) {
	_, base := sandbox(t)
	c, _ := alisqi.New(alisqi.Config{BaseURL: base, Token: "wrong-token"})
	err := c.StoreResults(context.Background(), alisqi.Store{SetID: 101, KeyField: "item_code_", Results: raw(`{"item_code_":"A"}`)})
	var e *alisqi.Error
	if !errors.As(err, &e) || e.Status != 401 || e.Permanent() || c.Calls() != 1 {
		t.Errorf("err = %v, calls %d", err, c.Calls())
	}
}

// A write that timed out after AlisQI applied it is retried only when it is
// an idempotent upsert.
func TestTimeoutAfterCommit(t *testing.T) {
	sb, base := sandbox(t)
	sb.SetFaults(alisqisandbox.Faults{TimeoutAfterCommitRate: 1, HangFor: 3 * time.Second}, 7)
	c := client(t, base, func(cfg *alisqi.Config) {
		cfg.HTTP = &http.Client{Timeout: 300 * time.Millisecond}
		cfg.MaxAttempts = 2
	})
	err := c.StoreResults(context.Background(), alisqi.Store{SetID: 101, Results: raw(`{"item_code_":"N"}`)})
	var e *alisqi.Error
	if !errors.As(err, &e) || !e.Ambiguous || c.Calls() != 1 {
		t.Fatalf("insert without keyField: err %v, calls %d; want one ambiguous call", err, c.Calls())
	}
	if len(sb.Results(101)) != 1 {
		t.Error("the timed-out write was not applied (the sandbox should commit first)")
	}
	_ = c.StoreResults(context.Background(), alisqi.Store{SetID: 101, KeyField: "item_code_", Results: raw(`{"item_code_":"K"}`)})
	if c.Calls() != 3 {
		t.Errorf("upsert after timeout: %d calls in all, want a retry", c.Calls())
	}
	if strings.Contains(err.Error(), token) {
		t.Error("token in error")
	}
}

// Two clients with one token share one bucket; a wait past the deadline
// fails fast without calling AlisQI.
func TestSharedBucket(t *testing.T) {
	sb, base := sandbox(t)
	db, _ := sqlitedb.Open(filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	limiter, _ := sqlite.New(db, nil)
	with := func(cfg *alisqi.Config) { cfg.Limiter = limiter; cfg.PerMinute = 3 }
	a, b := client(t, base, with), client(t, base, with)
	if a.Bucket() != b.Bucket() || strings.Contains(a.Bucket(), token) {
		t.Fatalf("buckets %q %q", a.Bucket(), b.Bucket())
	}
	for _, c := range []*alisqi.Client{a, b, a} {
		if _, err := c.GetAllSets(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := b.GetAllSets(ctx)
	var e *alisqi.Error
	if !errors.As(err, &e) || e.Status != 429 || e.Permanent() {
		t.Fatalf("4th call within the minute: %v", err)
	}
	if n := sb.CountCalls(""); n != 3 {
		t.Errorf("AlisQI saw %d calls, want 3", n)
	}
}

func TestChunks(t *testing.T) {
	var rs []json.RawMessage
	for i := 0; i < 1234; i++ {
		rs = append(rs, json.RawMessage(`{"a_":"xxxxxxxx"}`))
	}
	cs := alisqi.Chunks(rs, 500, 1<<20)
	if len(cs) != 3 || len(cs[0]) != 500 || len(cs[2]) != 234 {
		t.Errorf("by count: %d chunks", len(cs))
	}
	cs = alisqi.Chunks(rs, 500, 100*18)
	if len(cs) != 13 || len(cs[0]) != 100 {
		t.Errorf("by bytes: %d chunks of %d", len(cs), len(cs[0]))
	}
	if cs := alisqi.Chunks(raw(strings.Repeat("x", 5000)), 10, 100); len(cs) != 1 {
		t.Error("an oversize result must still get a call")
	}
}
