package flowtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qbridge/qbridge/shared/alisqi"
	"github.com/qbridge/qbridge/shared/dispatch"
	"github.com/qbridge/qbridge/shared/sandbox/alisqisandbox"
	"github.com/qbridge/qbridge/shared/testenv"
)

const bcSpec = "../../testdata/specs/businesscentral.yaml"

func harness(t *testing.T, o Options) *Harness {
	t.Helper()
	o.DynamoDB = testenv.Endpoint(t, "QBRIDGE_TEST_DYNAMODB_ENDPOINT", "dynalite")
	o.SQS = testenv.Endpoint(t, "QBRIDGE_TEST_SQS_ENDPOINT", "fauxqs")
	h, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func drain(t *testing.T, h *Harness) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := h.Drain(ctx, 1, 100); err != nil {
		t.Fatal(err)
	}
}

// notify posts a BC notification for one record straight to ingest, as BC
// would (a duplicate or a late, stale delivery).
func notify(t *testing.T, h *Harness, collection, id, changeType, lastModified string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"value": []map[string]string{{
		"subscriptionId": "dup", "clientState": Credentials.ClientState.Reveal(), "expirationDateTime": "2026-12-07T10:00:00Z",
		"resource": "api/v2.0/companies(" + h.BC.CompanyID + ")/" + collection + "(" + id + ")", "changeType": changeType, "lastModifiedDateTime": lastModified,
	}}})
	resp, err := http.Post(h.EventsURL(), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("notification: %d", resp.StatusCode)
	}
}

func outcomes(t *testing.T, h *Harness, since time.Time) map[string]int {
	t.Helper()
	recs, err := h.Audit(context.Background(), since)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range recs {
		n[r.Outcome]++
	}
	return n
}

func TestEndToEndBusinessCentral(t *testing.T) {
	vendorFields := []alisqi.FieldDef{{Name: "supplier_no_", Type: "text"}, {Name: "supplier_name_", Type: "text"}, {Name: "city_", Type: "text"},
		{Name: "country_", Type: "list", Options: []string{"US", "NL", "DE"}}, {Name: "blocked_", Type: "text"}}
	h := harness(t, Options{SpecFile: bcSpec, AlisQILimit: 30, Sets: map[int][]alisqi.FieldDef{102: vendorFields}, Quiet: true})
	ctx := context.Background()
	start := time.Now().Add(-time.Second)

	// BC subscribes: the validation handshake runs through the real ingest handler.
	for _, res := range []string{"api/v2.0/companies(%s)/items", "api/v2.0/companies(%s)/vendors", "api/acme/quality/v1.0/companies(%s)/lotNoInformation"} {
		if _, err := h.BC.Subscribe(ctx, h.EventsURL(), strings.Replace(res, "%s", h.BC.CompanyID, 1), Credentials.ClientState.Reveal()); err != nil {
			t.Fatalf("subscribe %s: %v", res, err)
		}
	}

	// An item, a vendor and a lot arrive in AlisQI with the mapped fields.
	item := h.BC.Put("items", map[string]any{"number": " 1896-s ", "displayName": "ATHENS Desk", "type": "Inventory", "itemCategoryCode": "furniture",
		"baseUnitOfMeasureCode": "pcs", "blocked": false, "unitCost": 780.666})
	h.BC.Put("vendors", map[string]any{"number": "V0010", "displayName": "Fabrikam Inc.", "city": "Atlanta", "country": "us", "blocked": " "})
	h.BC.Put("api/acme/quality/v1.0/lotNoInformation", map[string]any{"lotNo": "lot-0042", "itemNo": "1896-S", "expirationDate": "2027-06-30", "blocked": false})
	if err := h.BC.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	drain(t, h)
	got, ok := h.AlisQI.Result(101, "item_code_", "1896-S")
	if !ok || got["description_"] != "ATHENS Desk" || got["base_unit_"] != "Pieces" || got["item_type_"] != "Stock item" || got["blocked_"] != "No" || got["unit_cost_"] != 780.67 || got["category_"] != "FURNITURE" {
		t.Errorf("item in AlisQI = %v", got)
	}
	if v, ok := h.AlisQI.Result(102, "supplier_no_", "V0010"); !ok || v["country_"] != "US" || v["blocked_"] != "No" {
		t.Errorf("vendor in AlisQI = %v", v)
	}
	if l, ok := h.AlisQI.Result(206, "lot_no_", "LOT-0042"); !ok || l["expiry_date_"] != "2027-06-30" || l["erp_blocked_"] != "No" {
		t.Errorf("lot in AlisQI = %v", l)
	}
	stores, fetches := h.AlisQI.CountCalls("storeResults"), h.BC.Requests()
	if stores != 3 {
		t.Errorf("%d storeResults calls for three sets, want 3", stores)
	}

	// Duplicates and stale events cost no AlisQI call — and no ERP fetch.
	modified := item["lastModifiedDateTime"].(string)
	notify(t, h, "items", item["id"].(string), "updated", modified)
	drain(t, h)
	notify(t, h, "items", item["id"].(string), "updated", "2020-01-01T00:00:00Z")
	drain(t, h)
	if n := h.AlisQI.CountCalls(""); n != stores {
		t.Errorf("duplicates and a stale event made %d AlisQI calls", n-stores)
	}
	if n := h.BC.Requests(); n != fetches {
		t.Errorf("duplicates and a stale event made %d BC requests", n-fetches)
	}
	o := outcomes(t, h, start)
	if o[dispatch.Unchanged] < 1 || o[dispatch.Stale] < 1 {
		t.Errorf("outcomes = %v", o)
	}

	// A poison record goes to the dead-letter queue with its reason while the
	// rest of its batch is applied.
	h.BC.Put("vendors", map[string]any{"number": "V0020", "displayName": "Contoso", "country": "xx"})
	h.BC.Put("vendors", map[string]any{"number": "V0030", "displayName": "Northwind", "country": "nl"})
	h.BC.Put("vendors", map[string]any{"number": "V0040", "displayName": "Litware", "country": "de"})
	if err := h.BC.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	drain(t, h)
	for _, no := range []string{"V0030", "V0040"} {
		if _, ok := h.AlisQI.Result(102, "supplier_no_", no); !ok {
			t.Errorf("vendor %s was not applied beside the poison record", no)
		}
	}
	if _, ok := h.AlisQI.Result(102, "supplier_no_", "V0020"); ok {
		t.Error("the poison vendor reached AlisQI")
	}
	dls, err := h.DeadLetters.List(ctx, 10)
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters = %+v, %v", dls, err)
	}
	if d := dls[0]; !strings.Contains(d.Reason, `Option "XX" is not valid for field country_`) || d.Flow != "dispatch" || d.LastAttempt.IsZero() {
		t.Errorf("dead letter = %+v", d)
	}

	// A 429 from AlisQI is waited out.
	h.AlisQI.SetFaults(alisqisandbox.Faults{ThrottleNext: 1, RetryAfter: time.Second}, 1)
	h.BC.Put("items", map[string]any{"id": item["id"], "displayName": "ATHENS Desk, oak"})
	if err := h.BC.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	drain(t, h)
	if got, _ := h.AlisQI.Result(101, "item_code_", "1896-S"); got["description_"] != "ATHENS Desk, oak" {
		recs, _ := h.Audit(ctx, start)
		for _, r := range recs {
			t.Logf("audit %s %s %s v%d %s", r.Entity, r.Key, r.Outcome, r.Version, r.Detail)
		}
		t.Errorf("after a 429 the item is %v", got)
	}
	throttled := 0
	for _, c := range h.AlisQI.Calls() {
		if c.Injected == "429" {
			throttled++
		}
	}
	if throttled != 1 {
		t.Errorf("%d throttled calls, want 1", throttled)
	}
	if n := len(h.BC.Subscriptions()); n != 3 {
		t.Errorf("%d subscriptions left; qbridge must never make BC drop one", n)
	}
}
