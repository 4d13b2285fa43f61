package rules

import (
	"reflect"
	"strings"
	"testing"
)

func TestConditions(t *testing.T) {
	rec := map[string]any{"itemCategoryCode": "RAW", "quantity": 12.0, "status": "Released"}
	ev := map[string]any{"action": "created", "entity": "purchaseReceipts"}
	tests := []struct {
		src  string
		prev map[string]any
		want bool
	}{
		{`record.itemCategoryCode in ["RAW", "PACK"]`, nil, true},
		{`record.itemCategoryCode in ["PACK"]`, nil, false},
		{`event.action == "created" && record.quantity > 10`, nil, true},
		{`record.status == "Released" && previous?.status != "Released"`, nil, true},
		{`record.status == "Released" && previous?.status != "Released"`, map[string]any{"status": "Released"}, false},
		{`record.missing == nil`, nil, true},
	}
	for _, tt := range tests {
		c, err := Compile(tt.src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.src, err)
		}
		got, err := c.Eval(&Env{Record: rec, Event: ev, Previous: tt.prev})
		if err != nil {
			t.Fatalf("Eval(%q): %v", tt.src, err)
		}
		if got != tt.want {
			t.Errorf("%q = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, src := range []string{
		`record.x ==`,     // syntax
		`len(record) + 1`, // never a bool (record fields are typed only at run time)
		`recrod.x == 1`,   // unknown variable
	} {
		if _, err := Compile(src); err == nil {
			t.Errorf("Compile(%q) accepted", src)
		}
	}
}

func TestEvalErrorIsReturned(t *testing.T) {
	c, err := Compile(`record.quantity > 10`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Eval(&Env{Record: map[string]any{"quantity": "lots"}})
	if err == nil || !strings.Contains(err.Error(), "record.quantity > 10") {
		t.Errorf("Eval error = %v, want the condition named", err)
	}
}

func TestPreviousFields(t *testing.T) {
	c, err := Compile(`previous.status != record.status || previous["qty"] > 1 || previous?.status == nil`)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PreviousFields(); !reflect.DeepEqual(got, []string{"qty", "status"}) {
		t.Errorf("PreviousFields = %v", got)
	}
}
