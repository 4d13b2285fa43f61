package testplan

import (
	"strings"
	"testing"

	"github.com/qbridge/qbridge/shared/spec"
)

func TestExampleSpecsPass(t *testing.T) {
	for _, name := range []string{"businesscentral", "s4hana"} {
		s, err := spec.Load("../../testdata/specs/" + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		reports, err := Run(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(reports) != len(s.Examples) {
			t.Fatalf("%s: %d reports for %d examples", name, len(reports), len(s.Examples))
		}
		for _, r := range reports {
			if !r.Pass() {
				t.Errorf("%s: %s: %v", name, r.Name, r.Mismatch)
			}
		}
	}
}

const doc = `version: 1
connection: t
erp: {system: generic}
alisqi: {}
entities:
  items:
    kind: item
    resource: items
    key: id
    alisqi: {set: 1, keyField: code_}
    fields:
      - {target: code_, source: no, mandatory: true}
      - {target: name_, source: name}
triggers:
  - {name: big, entity: items, on: [created], when: 'record.qty > 10', inspection: {set: 2, keyField: k_, fields: [{target: k_, source: no, mandatory: true}]}}
examples:
`

func run(t *testing.T, examples string) []Report {
	t.Helper()
	s, err := spec.Parse("t.yaml", []byte(doc+examples))
	if err != nil {
		t.Fatal(err)
	}
	reports, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	return reports
}

// A test plan is only worth something if it fails when the mapping is wrong.
func TestMismatchesAreReported(t *testing.T) {
	tests := []struct {
		example string
		want    string
	}{
		{`  - {name: e, entity: items, input: {id: 1, no: A, name: X}, expect: {code_: A, name_: Y}}`, `name_: want "Y", got "X"`},
		{`  - {name: e, entity: items, input: {id: 1, no: A}, expect: {code_: A, name_: X}}`, `name_: want "X", got null`},
		{`  - {name: e, entity: items, input: {id: 1, no: 7}, expect: {code_: "7"}}`, `code_: want "7", got 7`},
		{`  - {name: e, entity: items, input: {id: 1}, expect: {code_: A}}`, `(errors): want [], got [{"field":"code_"`},
		{`  - {name: e, entity: items, input: {id: 1, no: A}, expectErrors: [code_]}`, `(errors): want ["code_"], got []`},
		{`  - {name: e, entity: items, action: created, input: {id: 1, no: A, qty: 5}, expectTriggers: [big]}`, `(triggers): want ["big"], got []`},
		{`  - {name: e, entity: items, action: updated, input: {id: 1, no: A, qty: 50}, expectTriggers: [big]}`, `(triggers): want ["big"], got []`},
		{`  - {name: e, entity: items, action: created, input: {id: 1, no: A, qty: 50}, expectTriggers: []}`, `(triggers): want [], got ["big"]`},
	}
	for _, tt := range tests {
		r := run(t, tt.example+"\n")[0]
		if r.Pass() {
			t.Errorf("%s: passed, want a mismatch", tt.example)
			continue
		}
		var got []string
		for _, d := range r.Mismatch {
			got = append(got, d.String())
		}
		if !strings.Contains(strings.Join(got, "\n"), tt.want) {
			t.Errorf("%s:\n got %v\nwant %s", tt.example, got, tt.want)
		}
	}
}

func TestMatchingExamplesPass(t *testing.T) {
	reports := run(t, `  - {name: a, entity: items, input: {id: 1, no: A, name: X}, expect: {code_: A, name_: X}}
  - {name: b, entity: items, input: {id: 1}, expectErrors: [code_]}
  - {name: c, entity: items, action: created, input: {id: 1, no: A, qty: 50}, expectTriggers: [big]}
`)
	for _, r := range reports {
		if !r.Pass() {
			t.Errorf("%s: %v", r.Name, r.Mismatch)
		}
	}
}
