package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/alisqi"
	"github.com/qbridge/qbridge/shared/ops"
	"github.com/qbridge/qbridge/shared/store"
)

var specs = []string{"../../../testdata/specs/businesscentral.yaml", "../../../testdata/specs/generic.yaml"}

func start(t *testing.T, dir string) *Runner {
	t.Helper()
	vendorFields := []alisqi.FieldDef{{Name: "supplier_no_", Type: "text"}, {Name: "supplier_name_", Type: "text"}, {Name: "city_", Type: "text"},
		{Name: "country_", Type: "list", Options: []string{"US", "NL"}}, {Name: "blocked_", Type: "text"}}
	r, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", Dir: dir, Specs: specs, Log: io.Discard, OpsToken: "test-token",
		BatchWindow: 200 * time.Millisecond, SandboxSets: map[string]map[int][]alisqi.FieldDef{"acme-bc": {102: vendorFields}}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestRunnerEndToEnd(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir)
	defer r.Close(context.Background())

	// The banner's curl: an item created in the BC sandbox reaches AlisQI.
	status, body := call(t, "POST", r.URL+"/sandbox/acme-bc/bc/items", "", `{"number":"1896-S","displayName":"ATHENS Desk","type":"Inventory","baseUnitOfMeasureCode":"PCS"}`)
	if status != 201 {
		t.Fatalf("sandbox put: %d %s", status, body)
	}
	eventually(t, "the item in AlisQI", func() bool {
		_, b := call(t, "GET", r.URL+"/sandbox/acme-bc/alisqi/101", "", "")
		return bytes.Contains(b, []byte(`"item_code_":"1896-S"`)) && bytes.Contains(b, []byte(`"base_unit_":"Pieces"`))
	})

	// The ops API: refused without the token, the audit trail with it.
	if status, _ := call(t, "GET", r.URL+"/ops/health", "", ""); status != 401 {
		t.Errorf("ops without credentials: %d", status)
	}
	if status, _ := call(t, "GET", r.URL+"/ops/health", "wrong", ""); status != 401 {
		t.Errorf("ops with a wrong token: %d", status)
	}
	status, body = call(t, "GET", r.URL+"/ops/audit", "test-token", "")
	if status != 200 || !bytes.Contains(body, []byte(`"outcome":"applied"`)) {
		t.Errorf("audit: %d %s", status, body)
	}
	if status, page := call(t, "GET", r.URL+"/ops/console", "", ""); status != 200 || !bytes.Contains(page, []byte("qbridge operations")) {
		t.Errorf("console: %d", status)
	}

	// Two vendors AlisQI refuses: both dead-lettered with the reason.
	for _, country := range []string{"xx", "yy"} {
		call(t, "POST", r.URL+"/sandbox/acme-bc/bc/vendors", "", `{"number":"V-`+country+`","displayName":"Contoso","country":"`+country+`"}`)
	}
	var dls []ops.DeadLetter
	eventually(t, "two dead letters", func() bool {
		_, b := call(t, "GET", r.URL+"/ops/deadletters", "test-token", "")
		_ = json.Unmarshal(b, &dls)
		return len(dls) == 2
	})
	if !strings.Contains(dls[0].Reason, "is not valid for field country_") || dls[0].Entity != "vendors" {
		t.Errorf("dead letter = %+v", dls[0])
	}
	health := struct{ Healthy bool }{}
	_, b := call(t, "GET", r.URL+"/ops/health", "test-token", "")
	if _ = json.Unmarshal(b, &health); health.Healthy {
		t.Error("healthy with dead letters waiting")
	}

	// Replay needs a reason; after AlisQI accepts the value, a replay applies it.
	if status, _ := call(t, "POST", r.URL+"/ops/deadletters/"+dls[0].ID+"/replay", "test-token", `{}`); status != 400 {
		t.Errorf("replay without a reason: %d", status)
	}
	r.Sandboxes["acme-bc"].AlisQI.AddSet(alisqi.SetDefinition{ID: 102, Fields: nil}, "measurementSet") // AlisQI now takes any country
	status, b = call(t, "POST", r.URL+"/ops/deadletters/"+dls[0].ID+"/replay", "test-token", `{"reason":"country list extended in AlisQI"}`)
	if status != 200 || !bytes.Contains(b, []byte(`"actor":"local:operator"`)) {
		t.Fatalf("replay: %d %s", status, b)
	}
	eventually(t, "the replayed vendor in AlisQI", func() bool {
		_, b := call(t, "GET", r.URL+"/sandbox/acme-bc/alisqi/102", "", "")
		return bytes.Contains(b, []byte(`"country_":`))
	})
	if status, _ := call(t, "POST", r.URL+"/ops/deadletters/"+dls[1].ID+"/discard", "test-token", `{"reason":"test vendor, never real"}`); status != 200 {
		t.Errorf("discard: %d", status)
	}
	var recs []store.AuditRecord
	_, b = call(t, "GET", r.URL+"/ops/audit", "test-token", "")
	_ = json.Unmarshal(b, &recs)
	acted := map[string]store.AuditRecord{}
	for _, rec := range recs {
		if rec.Flow == "ops" {
			acted[rec.Outcome] = rec
		}
	}
	if a := acted["replayed"]; a.Actor != "local:operator" || a.Detail != "country list extended in AlisQI" || a.Entity != "vendors" {
		t.Errorf("replay audit = %+v", a)
	}
	if d := acted["discarded"]; d.Actor != "local:operator" || d.Detail != "test vendor, never real" {
		t.Errorf("discard audit = %+v", d)
	}
	var k ops.KPIs
	_, b = call(t, "GET", r.URL+"/ops/kpis", "test-token", "")
	if _ = json.Unmarshal(b, &k); k.ManualInterventions != 2 || k.ByOutcome["applied"] < 2 || k.LatencyMs.P50 <= 0 {
		t.Errorf("kpis = %s", b)
	}
	var pv ops.Preview
	_, b = call(t, "POST", r.URL+"/ops/preview", "test-token", `{"connection":"acme-bc","entity":"items","record":{"id":"x","number":"1896-S","displayName":"ATHENS Desk, oak","type":"Inventory","lastModifiedDateTime":"2026-12-04T10:00:00Z"}}`)
	if _ = json.Unmarshal(b, &pv); pv.Current == nil || len(pv.Changes) == 0 || pv.Changes[0].Field != "description_" {
		t.Errorf("preview = %s", b)
	}
}

// Stopping loses nothing: what is queued is there after a restart.
func TestRestartLosesNothing(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir)
	ctx := context.Background()
	// Queue events straight into the inbound queue, then stop at once.
	sb := r.Sandboxes["acme-bc"]
	item := sb.BC.Put("items", map[string]any{"number": "R-1", "displayName": "Restart", "type": "Inventory"})
	r.stopping.Store(true) // dispatch takes no new batch
	notice := `{"value":[{"subscriptionId":"s","clientState":"sandbox-client-state","resource":"api/v2.0/companies(` + sb.BC.CompanyID + `)/items(` + item["id"].(string) + `)","changeType":"created","lastModifiedDateTime":"` + item["lastModifiedDateTime"].(string) + `"}]}`
	if status, b := call(t, "POST", r.URL+"/erp/acme-bc/events", "", notice); status != 202 {
		t.Fatalf("ingest: %d %s", status, b)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r2 := start(t, dir) // new sandboxes: the record must be there again for the fetch
	defer r2.Close(ctx)
	if v, f, _ := r2.Inbound.Depth(ctx); v+f == 0 {
		t.Fatal("the queued event is gone after a restart")
	}
	r2.Sandboxes["acme-bc"].BC.Put("items", item)
	eventually(t, "the queued event processed after the restart", func() bool {
		v, f, _ := r2.Inbound.Depth(ctx)
		return v+f == 0
	})
}
