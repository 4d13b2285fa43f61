package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// base is a minimal valid spec; cases replace parts of it.
const base = `version: 1
connection: acme
erp: {system: businesscentral}
alisqi: {baseUrl: "https://acme.alisqi.com/api/"}
translations:
  units: {values: {PCS: Pieces}}
conversions:
  mass: {KG: 1, G: 0.001}
entities:
  items:
    kind: item
    resource: items
    key: id
    version: lastModifiedDateTime
    alisqi: {set: 101, keyField: item_code_}
    fields:
      - {target: item_code_, source: number, mandatory: true}
      - {target: unit_, source: uom, translate: units}
`

func TestBaseIsValid(t *testing.T) {
	s, err := Parse("base.yaml", []byte(base))
	if err != nil {
		t.Fatalf("base spec: %v", err)
	}
	e := s.Entity("items")
	if e == nil || e.Name != "items" || e.Owner != "erp" || e.Trigger != TriggerEvent || e.AlisQI.Type != "selectionList" {
		t.Errorf("defaults not applied: %+v", e)
	}
	if s.Timezone != "UTC" || s.AlisQI.CallsPerMinute != 30 || s.AlisQI.BatchSize != 500 {
		t.Errorf("spec defaults not applied: %q %d %d", s.Timezone, s.AlisQI.CallsPerMinute, s.AlisQI.BatchSize)
	}
	if s.Translations["units"].Fallback != FallbackStrict {
		t.Errorf("translation fallback default = %q", s.Translations["units"].Fallback)
	}
}

// Each case edits base and expects one problem at line:column containing text.
func TestChecks(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string // "line:col: substring"
	}{
		{"unknown translation table", "translate: units}", "translate: unit}", "18:49: unknown translation table \"unit\"; defined: units"},
		{"duplicate target", "target: unit_,", "target: item_code_,", "18:18: duplicate target \"item_code_\""},
		{"key field not mapped", "keyField: item_code_}", "keyField: code_}", "15:34: key field \"code_\" is not mapped"},
		{"key field not mandatory", "source: number, mandatory: true}", "source: number}", "15:34: key field \"item_code_\" must be mandatory"},
		{"key field constant", "source: number, mandatory: true}", "constant: X, mandatory: true}", "15:34: key field \"item_code_\" is a constant"},
		{"trigger expression does not compile", "", "triggers:\n  - {name: t, entity: items, when: 'record.x ==', inspection: {set: 1, keyField: k_, fields: [{target: k_, source: a, mandatory: true}]}}\n", "20:36: condition does not compile"},
		{"bad rate", "    resource: items\n", "    resource: items\n    trigger: schedule\n    schedule: rate(5 minute)\n", "14:15: with value 5 the unit is plural"},
		{"bad cron", "    resource: items\n", "    resource: items\n    trigger: both\n    schedule: cron(0 10 * * * *)\n", "14:15: exactly one of day-of-month and day-of-week must be ?"},
		{"schedule missing", "    resource: items\n", "    resource: items\n    trigger: schedule\n", "13:14: has trigger schedule but no schedule"},
		{"schedule without trigger", "    resource: items\n", "    resource: items\n    schedule: rate(1 hour)\n", "13:15: has a schedule but trigger event"},
		{"unknown entity kind", "kind: item", "kind: lot", "11:11: entities/items/kind: value must be one of"},
		{"unknown field", "    resource: items\n", "    resource: items\n    resorce: items\n", "13:5: unknown field \"resorce\" in entities/items"},
		{"missing required", "    resource: items\n", "", "11:5: entities/items is missing required field \"resource\""},
		{"unknown transform", "source: uom,", "source: uom, transforms: [shout],", "18:51: unknown transform \"shout\""},
		{"unknown transform object", "source: uom,", "source: uom, transforms: [{truncat: 3}],", "18:51: unknown transform \"truncat\""},
		{"bad truncate", "source: uom,", "source: uom, transforms: [{truncate: 0}],", "18:62: truncate: minimum: got 0, want 1"},
		{"unknown conversion table", "source: uom,", "source: uom, transforms: [{convert: {table: volume, from: L, to: ML}}],", "18:69: unknown conversion table \"volume\"; defined: mass"},
		{"unit not in table", "source: uom,", "source: uom, transforms: [{convert: {table: mass, from: LB, to: KG}}],", "18:81: unit \"LB\" is not in conversion table \"mass\""},
		{"convert needs one source unit", "source: uom,", "source: uom, transforms: [{convert: {table: mass, to: KG}}],", "18:61: convert needs exactly one of from"},
		{"bad date layout", "source: uom,", "source: uom, transforms: [{date: {layout: 'dd.mm.yyyy'}}],", "18:67: date layout \"dd.mm.yyyy\""},
		{"two sources", "source: uom,", "source: uom, constant: X,", "18:9: field \"unit_\" needs exactly one of source, template or constant (has 2)"},
		{"no source", "source: uom, translate: units", "mandatory: false", "18:9: field \"unit_\" needs exactly one of source, template or constant (has 0)"},
		{"bad path", "source: uom,", "source: \"lines[x]\",", "18:33: path \"lines[x]\": index \"x\""},
		{"bad template", "source: uom,", "template: \"{{uom\",", "18:35: {{ without }}"},
		{"bad time zone", "version: 1\n", "version: 1\ntimezone: Europe/Amstedam\n", "2:11: unknown time zone \"Europe/Amstedam\""},
		{"bad connection id", "connection: acme", "connection: Acme BC", "2:13: \"Acme BC\" is not a connection id"},
		{"default fallback without default", "{values: {PCS: Pieces}}", "{values: {PCS: Pieces}, fallback: default}", "6:44: falls back to its default but has none"},
		{"ignoreCase duplicates", "{values: {PCS: Pieces}}", "{values: {PCS: Pieces, pcs: Pieces}, ignoreCase: true}", "6:33: ignores case, so \"PCS\" and \"pcs\" are the same value"},
		{"owner alisqi flowing in", "    resource: items\n", "    resource: items\n    owner: alisqi\n", "11:5: owned by AlisQI"},
		{"trigger unknown entity", "", "triggers:\n  - {name: t, entity: itemz, inspection: {set: 1, keyField: k_, fields: [{target: k_, source: a, mandatory: true}]}}\n", "20:23: unknown entity \"itemz\"; defined: items"},
		{"duplicate trigger", "", "triggers:\n  - {name: t, entity: items, inspection: {set: 1, keyField: k_, fields: [{target: k_, source: a, mandatory: true}]}}\n  - {name: t, entity: items, inspection: {set: 1, keyField: k_, fields: [{target: k_, source: a, mandatory: true}]}}\n", "21:12: duplicate trigger name \"t\""},
		{"inspection key not mapped", "", "triggers:\n  - {name: t, entity: items, inspection: {set: 1, keyField: k_, fields: [{target: j_, source: a}]}}\n", "20:61: key field \"k_\" is not mapped"},
		{"outcome value twice", "", "outcomes:\n  - {name: o, set: 1, field: d_, keyField: k_, entity: items, decisions: {accept: {values: [OK], action: release}, block: {values: [OK], action: blockItem}}}\n", "20:133: value \"OK\" already means accept"},
		{"usageDecision outside SAP", "", "outcomes:\n  - {name: o, set: 1, field: d_, keyField: k_, entity: items, decisions: {accept: {values: [OK], action: usageDecision}}}\n", "20:106: usageDecision is an SAP S/4HANA action"},
		{"followUp without text", "", "outcomes:\n  - {name: o, set: 1, field: d_, keyField: k_, entity: items, decisions: {conditional: {values: [C], action: followUp}}}\n", "20:110: action followUp needs followUp"},
		{"bad poll", "", "outcomes:\n  - {name: o, set: 1, field: d_, keyField: k_, entity: items, poll: every hour, decisions: {accept: {values: [OK], action: none}}}\n", "20:69: want rate(value unit) or cron"},
		{"unknown verdict", "", "outcomes:\n  - {name: o, set: 1, field: d_, keyField: k_, entity: items, decisions: {maybe: {values: [OK], action: none}}}\n", "20:75: unknown field \"maybe\" in outcomes/0/decisions"},
		{"example expects unmapped field", "", "examples:\n  - {name: e, entity: items, input: {}, expect: {nope_: 1}}\n", "20:50: expects field \"nope_\", which entity \"items\" does not map"},
		{"example expects nothing", "", "examples:\n  - {name: e, entity: items, input: {}}\n", "20:5: example \"e\" expects nothing"},
		{"example unknown trigger", "", "examples:\n  - {name: e, entity: items, input: {}, expectTriggers: [t]}\n", "20:58: expects trigger \"t\", which is not a trigger of entity \"items\""},
		{"bad entity name", "  items:\n", "  item-list:\n", "10:3: entity name \"item-list\" must be a letter"},
		{"onDelete mark without fields", "    resource: items\n", "    resource: items\n    onDelete: {action: mark}\n", "13:15: onDelete mark needs fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := base
			if tt.old == "" {
				doc += tt.new
			} else {
				if !strings.Contains(doc, tt.old) {
					t.Fatalf("base has no %q", tt.old)
				}
				doc = strings.Replace(doc, tt.old, tt.new, 1)
			}
			_, err := Parse("s.yaml", []byte(doc))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse accepted it (err %v)", err)
			}
			want := "s.yaml:" + tt.want
			for _, p := range ps {
				if strings.HasPrefix(p.String(), want[:strings.Index(want, ": ")+2]) && strings.Contains(p.String(), want[strings.Index(want, ": ")+2:]) {
					return
				}
			}
			t.Errorf("want a problem %q, got:\n%v", want, err)
		})
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	doc := strings.Replace(base, "translate: units}", "translate: unit}", 1)
	doc = strings.Replace(doc, "kind: item", "kind: lot", 1)
	doc = strings.Replace(doc, "version: 1\n", "version: 1\ntimezone: Nowhere/City\n", 1)
	_, err := Parse("s.yaml", []byte(doc))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Line < ps[i-1].Line {
			t.Errorf("problems not sorted by position: %v", ps)
		}
	}
}

func TestYAMLSyntaxError(t *testing.T) {
	_, err := Parse("s.yaml", []byte("version: 1\n\tconnection: x\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "s.yaml:2:1: YAML: found a tab character") {
		t.Errorf("err = %v", err)
	}
	_, err = Parse("s.yaml", []byte(""))
	if err == nil || !strings.Contains(err.Error(), "s.yaml:1:1: the file is empty") {
		t.Errorf("empty: err = %v", err)
	}
	_, err = Parse("s.yaml", []byte("a: &x {b: 1}\nc:\n  <<: *x\n"))
	if err == nil || !strings.Contains(err.Error(), "merge keys") {
		t.Errorf("merge: err = %v", err)
	}
}

func TestAliasBombIsRefused(t *testing.T) {
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 8; i++ {
		name := fmt.Sprintf("b%d", i)
		doc += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	_, err := Parse("s.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "too many aliases") {
		t.Errorf("err = %v", err)
	}
}

func TestExampleSpecsLoad(t *testing.T) {
	for _, name := range []string{"businesscentral", "s4hana"} {
		s, err := Load(fmt.Sprintf("../../testdata/specs/%s.yaml", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(s.EntityOrder) != len(s.Entities) || len(s.Examples) == 0 {
			t.Errorf("%s: entity order %v, %d examples", name, s.EntityOrder, len(s.Examples))
		}
	}
}

func TestBusinessCentralCoversTheWorkshop(t *testing.T) {
	s, err := Load("../../testdata/specs/businesscentral.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range s.Entities {
		kinds[string(e.Kind)] = true
	}
	for _, k := range []string{"item", "supplier", "customer", "unitOfMeasure", "location", "machine", "productionLine", "purchaseOrder", "purchaseReceipt", "productionOrder", "workOrder", "batch"} {
		if !kinds[k] {
			t.Errorf("no entity of kind %s", k)
		}
	}
	if s.Trigger("incoming-inspection") == nil || s.Trigger("in-process-inspection").Condition() == nil {
		t.Error("triggers missing or not compiled")
	}
	if got := s.Trigger("in-process-inspection").Condition().PreviousFields(); len(got) != 1 || got[0] != "status" {
		t.Errorf("previous fields = %v", got)
	}
	jobs := s.Schedules()
	names := map[string]string{}
	for _, j := range jobs {
		names[j.Name] = j.Schedule
	}
	if names["pull-purchaseReceipts"] != "rate(15 minutes)" || names["pull-items"] != "cron(0 2 * * ? *)" || names["poll-lot-release"] != "rate(5 minutes)" {
		t.Errorf("schedules = %v", names)
	}
	if sets := s.Sets(); len(sets) != 15 || sets[0] != 101 || sets[len(sets)-1] != 302 {
		t.Errorf("sets = %v", sets)
	}
	if _, ok := names["pull-vendors"]; ok {
		t.Error("event-only entity got a schedule")
	}
}
