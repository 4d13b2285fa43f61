package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/alisqi"
	"github.com/qbridge/qbridge/shared/connections"
	"github.com/qbridge/qbridge/shared/dispatch"
	"github.com/qbridge/qbridge/shared/envelope"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/queue/embedded"
	"github.com/qbridge/qbridge/shared/sandbox/alisqisandbox"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
	"github.com/qbridge/qbridge/shared/sqlitedb"
	"github.com/qbridge/qbridge/shared/store/sqlite"
)

type creds struct{}

func (creds) Credentials(context.Context, string) (*secrets.Credentials, error) {
	return &secrets.Credentials{AlisQIToken: "tok"}, nil
}

type fixture struct {
	d      *dispatch.Dispatcher
	store  *sqlite.Store
	alisqi *alisqisandbox.Server
	clock  *clock
}

// clock is real time, moved forward by Advance, so leases can run out
// without a test waiting for them.
type clock struct {
	mu   sync.Mutex
	skew time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.skew) }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.skew += d; c.mu.Unlock() }

// sent records what is sent to a queue.
type sent struct {
	queue.Queue
	out []queue.Outgoing
}

func (s *sent) Send(ctx context.Context, msgs []queue.Outgoing) error {
	s.out = append(s.out, msgs...)
	return s.Queue.Send(ctx, msgs)
}

func setup(t *testing.T) *fixture {
	t.Helper()
	aq := alisqisandbox.New("tok")
	aq.SetLimit(0)
	for _, set := range []int{11, 21, 31} { // the generic spec's sets
		aq.AddSet(alisqi.SetDefinition{ID: set}, "measurementSet")
	}
	srv := httptest.NewServer(aq.Handler())
	t.Cleanup(srv.Close)
	s, err := spec.Load("../../testdata/specs/generic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.AlisQI.BaseURL = srv.URL + "/api/"
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{}
	st, _ := sqlite.New(db, c.Now)
	broker, _ := embedded.NewBroker(db)
	reg, err := connections.New([]*spec.Spec{s}, connections.Options{Secrets: creds{}, Limiter: st})
	if err != nil {
		t.Fatal(err)
	}
	d := &dispatch.Dispatcher{Connections: reg, States: st, Audit: st, Inbound: broker.Queue("inbound", embedded.Config{}),
		DeadLetter: broker.Queue("dlq", embedded.Config{}), Log: nil, MetricsOut: io.Discard, Now: c.Now}
	return &fixture{d: d, store: st, alisqi: aq, clock: c}
}

func event(key string, version int, name string) model.ChangeEvent {
	changed := time.Date(2026, 12, 4, 10, 0, version, 0, time.UTC)
	rec, _ := json.Marshal(map[string]any{"sku": key, "name": name, "changedAt": changed.Format(time.RFC3339)})
	return model.ChangeEvent{ID: key + "@" + changed.String(), Connection: "northwind", Entity: "items", Kind: model.KindItem, Key: key,
		Version: changed.UnixMicro(), Action: model.ActionUpdated, Payload: rec, Source: "generic", ReceivedAt: time.Now()}
}

func message(t *testing.T, id string, retry *envelope.Retry, evs ...model.ChangeEvent) queue.Message {
	t.Helper()
	out, err := envelope.PackRetry("northwind", evs, nil, retry)
	if err != nil {
		t.Fatal(err)
	}
	return queue.Message{ID: id, Body: out[0].Body, Attributes: out[0].Attributes, ReceiveCount: 1}
}

// A retry of a claim whose write failed must be written even when a
// duplicate from another message wins the coalescing in its batch: the
// winner takes over the claim. (The chaos test found this losing records.)
func TestRetryCoalescedWithADuplicateIsStillWritten(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	ev := event("NW-1", 5, "Rye")
	// M1 claimed the key, then its AlisQI write failed: the state says v5 by M1.
	m1 := message(t, "m1", nil, ev)
	inbound := &sent{Queue: f.d.Inbound}
	f.d.Inbound = inbound
	f.alisqi.SetFaults(alisqisandbox.Faults{ServerErrorRate: 1}, 1)
	f.d.Process(ctx, []queue.Message{m1})
	f.alisqi.SetFaults(alisqisandbox.Faults{}, 1)
	got, _ := f.store.GetMany(ctx, []model.EntityKey{ev.EntityKey()})
	st := got[ev.EntityKey()]
	if st.Owner != "m1" || st.Version != ev.Version {
		t.Fatalf("state after the failed write = %+v", st)
	}
	if len(f.alisqi.Results(11)) != 0 {
		t.Fatal("the failed write reached AlisQI")
	}
	// Its retry runs elsewhere, so it waits until M1's run's lease is over.
	if len(inbound.out) != 1 {
		t.Fatalf("%d retries sent, want 1", len(inbound.out))
	}
	if wait := time.Until(time.Unix(st.LeaseUntil, 0)); inbound.out[0].Delay < wait {
		t.Fatalf("retry delayed %v, want past the lease (%v)", inbound.out[0].Delay, wait)
	}
	f.clock.Advance(inbound.out[0].Delay)
	// M1's retry and a later duplicate (M3) arrive in one batch; M3 wins.
	dup := ev
	dup.ReceivedAt = ev.ReceivedAt.Add(time.Minute)
	retry := message(t, "m1-retry", &envelope.Retry{Owner: "m1", Attempt: 1}, ev)
	m3 := message(t, "m3", nil, dup)
	if failed := f.d.Process(ctx, []queue.Message{retry, m3}); len(failed) != 0 {
		t.Fatalf("failed = %v", failed)
	}
	if res := f.alisqi.Results(11); len(res) != 1 || res[0]["item_code_"] != "NW-1" {
		t.Fatalf("AlisQI = %v: the record was lost", res)
	}
}

// An ordinary duplicate of an applied record costs no AlisQI call and no write.
func TestDuplicateIsUnchanged(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	ev := event("NW-2", 1, "Oat")
	var emf bytes.Buffer
	f.d.MetricsOut = &emf
	f.d.Process(ctx, []queue.Message{message(t, "a", nil, ev)})
	// The EMF line feeds the dashboard and the AlisQI alarms.
	for _, want := range []string{`"applied":1`, `"alisqiCalls":1`, `"alisqiThrottled":0`, `"Connection":"northwind"`, `"Namespace":"qbridge"`} {
		if !strings.Contains(emf.String(), want) {
			t.Errorf("metrics %s lack %s", emf.String(), want)
		}
	}
	calls := f.alisqi.CountCalls("storeResults")
	f.d.Process(ctx, []queue.Message{message(t, "b", nil, ev)})
	if f.alisqi.CountCalls("storeResults") != calls {
		t.Error("a duplicate was written again")
	}
	recs, _ := f.store.ByKey(ctx, ev.EntityKey(), time.Now().Add(-time.Hour), 10)
	if len(recs) != 2 || recs[0].Outcome != dispatch.Unchanged || recs[1].Outcome != dispatch.Applied {
		t.Errorf("audit = %+v", recs)
	}
}
