package quality

import (
	"reflect"
	"strings"
	"testing"

	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/spec"
)

func load(t *testing.T) (*spec.Spec, *Triggers) {
	t.Helper()
	s, err := spec.Load("../../testdata/specs/businesscentral.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plans, err := mapping.CompileSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := New(s, plans)
	if err != nil {
		t.Fatal(err)
	}
	return s, ts
}

func TestFire(t *testing.T) {
	_, ts := load(t)
	receipt := map[string]any{"id": "r1", "documentNo": "PR-1", "lineNo": 10000.0, "lotNo": " l1 ", "itemNo": "1100", "itemCategoryCode": "RAW", "quantity": "5"}
	tests := []struct {
		name     string
		ev       Event
		rec      map[string]any
		previous map[string]any
		want     []string
	}{
		{"raw receipt created", Event{Entity: "receiptLots", Action: model.ActionCreated}, receipt, nil, []string{"incoming-inspection"}},
		{"raw receipt updated is not a new receipt", Event{Entity: "receiptLots", Action: model.ActionUpdated}, receipt, nil, nil},
		{"other category", Event{Entity: "receiptLots", Action: model.ActionCreated}, map[string]any{"itemCategoryCode": "TOOLS"}, nil, nil},
		{"order released", Event{Entity: "productionOrders", Action: model.ActionUpdated}, map[string]any{"no": "101", "sourceNo": "X", "status": "Released"}, map[string]any{"status": "Firm Planned"}, []string{"in-process-inspection"}},
		{"order already released", Event{Entity: "productionOrders", Action: model.ActionUpdated}, map[string]any{"no": "101", "sourceNo": "X", "status": "Released"}, map[string]any{"status": "Released"}, nil},
		{"entity without triggers", Event{Entity: "items", Action: model.ActionCreated}, map[string]any{}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ts.Fire(tt.ev, tt.rec, tt.previous)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, in := range got {
				names = append(names, in.Trigger)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Errorf("fired %v, want %v", names, tt.want)
			}
		})
	}
	got, _ := ts.Fire(Event{Entity: "receiptLots", Action: model.ActionCreated}, receipt, nil)
	in := got[0]
	if in.Set != 301 || in.KeyField != "inspection_no_" {
		t.Errorf("inspection target = %d %s", in.Set, in.KeyField)
	}
	if m := in.Result.Map(); m["inspection_no_"] != "IN-PR-1-10000" || m["lot_no_"] != "L1" || m["inspection_type_"] != "Incoming" || m["quantity_"] != 5.0 {
		t.Errorf("inspection = %v", m)
	}
}

func TestFireErrors(t *testing.T) {
	_, ts := load(t)
	// A matching record whose inspection cannot be mapped is an error, not a silent skip.
	_, err := ts.Fire(Event{Entity: "receiptLots", Action: model.ActionCreated}, map[string]any{"itemCategoryCode": "RAW"}, nil)
	if err == nil || !strings.Contains(err.Error(), "trigger incoming-inspection: cannot map") {
		t.Errorf("err = %v", err)
	}
}

func TestPreviousFields(t *testing.T) {
	_, ts := load(t)
	if got := ts.PreviousFields("productionOrders"); !reflect.DeepEqual(got, []string{"status"}) {
		t.Errorf("PreviousFields = %v", got)
	}
	if ts.PreviousFields("items") != nil || ts.Has("items") || !ts.Has("receiptLots") {
		t.Error("items has no triggers")
	}
}
