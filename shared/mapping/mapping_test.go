package mapping

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/qbridge/qbridge/shared/spec"
)

// specWith builds a checked spec whose entity "e" maps the given fields.
func specWith(t testing.TB, fields string) *spec.Spec {
	t.Helper()
	doc := `version: 1
connection: t
timezone: Europe/Amsterdam
erp: {system: generic}
alisqi: {}
conversions:
  mass: {KG: 1, G: 0.001, LB: 0.45359237}
translations:
  units: {values: {PCS: Pieces, KG: Kilogram}}
  unitsCI: {values: {PCS: Pieces}, ignoreCase: true}
  unitsDefault: {values: {PCS: Pieces}, fallback: default, default: Other}
  unitsPass: {values: {PCS: Pieces}, fallback: passthrough}
  flags: {values: {"true": "Yes", "false": "No", "1": "One"}}
entities:
  e:
    kind: item
    resource: r
    key: id
    version: modified
    alisqi: {set: 1, keyField: k_}
    fields:
      - {target: k_, source: id, mandatory: true}
` + fields
	s, err := spec.Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("spec: %v", err)
	}
	return s
}

func mapOne(t *testing.T, fields, input string) (map[string]any, error) {
	t.Helper()
	s := specWith(t, fields)
	plan, err := Compile(s, s.Entity("e"))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var rec any
	if err := json.Unmarshal([]byte(input), &rec); err != nil {
		t.Fatal(err)
	}
	res, err := plan.Map(rec)
	if err != nil {
		return nil, err
	}
	return res.Map(), nil
}

func TestTransforms(t *testing.T) {
	tests := []struct {
		name  string
		field string // the YAML of one field with target v_
		input string // JSON record; id is added
		want  any    // the value of v_, or an error substring as errorf
	}{
		{"trim", "{target: v_, source: a, transforms: [trim]}", `{"a":"  x y  "}`, "x y"},
		{"trim to empty is missing", "{target: v_, source: a, transforms: [trim]}", `{"a":"   "}`, nil},
		{"upper", "{target: v_, source: a, transforms: [upper]}", `{"a":"abc-é"}`, "ABC-É"},
		{"lower", "{target: v_, source: a, transforms: [lower]}", `{"a":"ABC"}`, "abc"},
		{"truncate runes", "{target: v_, source: a, transforms: [{truncate: 3}]}", `{"a":"ÄÖÜß"}`, "ÄÖÜ"},
		{"truncate short", "{target: v_, source: a, transforms: [{truncate: 10}]}", `{"a":"abc"}`, "abc"},
		{"number from text", "{target: v_, source: a, transforms: [number]}", `{"a":" 12.50 "}`, 12.5},
		{"number from number", "{target: v_, source: a, transforms: [number]}", `{"a":7}`, 7.0},
		{"number grouped", "{target: v_, source: a, transforms: [number]}", `{"a":"1,234.5"}`, 1234.5},
		{"number decimal comma", "{target: v_, source: a, transforms: [{number: {decimal: ','}}]}", `{"a":"1.234,5"}`, 1234.5},
		{"number bad", "{target: v_, source: a, transforms: [number]}", `{"a":"12 kg"}`, errorf(`expected a number, found "12 kg"`)},
		{"number empty is missing", "{target: v_, source: a, transforms: [number]}", `{"a":""}`, nil},
		{"round", "{target: v_, source: a, transforms: [{round: 2}]}", `{"a":2.345678}`, 2.35},
		{"round zero", "{target: v_, source: a, transforms: [{round: 0}]}", `{"a":2.5}`, 3.0},
		{"round needs number", "{target: v_, source: a, transforms: [{round: 2}]}", `{"a":"2.3"}`, errorf("add the number transform before round")},
		{"date UTC to local", "{target: v_, source: a, transforms: [date]}", `{"a":"2024-07-01T10:00:00Z"}`, "2024-07-01 12:00:00"},
		{"date with offset", "{target: v_, source: a, transforms: [date]}", `{"a":"2024-01-01T10:00:00.1234567+02:00"}`, "2024-01-01 09:00:00"},
		{"date without zone is local", "{target: v_, source: a, transforms: [date]}", `{"a":"2024-01-01T10:00:00"}`, "2024-01-01 10:00:00"},
		{"date only", "{target: v_, source: a, transforms: [{date: {dateOnly: true}}]}", `{"a":"2024-03-04"}`, "2024-03-04"},
		{"date OData", "{target: v_, source: a, transforms: [date]}", `{"a":"/Date(1709287200000)/"}`, "2024-03-01 11:00:00"},
		{"date layout", "{target: v_, source: a, transforms: [{date: {layout: '02.01.2006 15:04'}}]}", `{"a":"04.03.2024 08:30"}`, "2024-03-04 08:30:00"},
		{"date BC empty", "{target: v_, source: a, transforms: [date]}", `{"a":"0001-01-01T00:00:00Z"}`, nil},
		{"date bad", "{target: v_, source: a, transforms: [date]}", `{"a":"next tuesday"}`, errorf(`expected a date such as 2024-03-01T10:00:00Z, found "next tuesday"`)},
		{"date not text", "{target: v_, source: a, transforms: [date]}", `{"a":20240301}`, errorf("expected a date, found 20240301")},
		{"convert fixed", "{target: v_, source: a, transforms: [{convert: {table: mass, from: G, to: KG}}]}", `{"a":2500}`, 2.5},
		{"convert from record", "{target: v_, source: a, transforms: [number, {convert: {table: mass, fromPath: u, to: G}}, {round: 1}]}", `{"a":"2","u":"lb"}`, 907.2},
		{"convert unknown unit", "{target: v_, source: a, transforms: [{convert: {table: mass, fromPath: u, to: KG}}]}", `{"a":2,"u":"stone"}`, errorf(`expected a unit of table mass, found "stone"`)},
		{"convert needs number", "{target: v_, source: a, transforms: [{convert: {table: mass, from: G, to: KG}}]}", `{"a":"2"}`, errorf("add the number transform before convert")},
		{"template", "{target: v_, template: '{{a}}-{{b.c}}'}", `{"a":"PO1","b":{"c":20000}}`, "PO1-20000"},
		{"template missing part", "{target: v_, template: '{{a}}-{{b}}', mandatory: true}", `{"a":"PO1"}`, errorf("expected a value (mandatory), found no b")},
		{"constant", "{target: v_, constant: Incoming}", `{}`, "Incoming"},
		{"constant number", "{target: v_, constant: 3}", `{}`, 3.0},
		{"array index", "{target: v_, source: 'lines[1].lot'}", `{"lines":[{"lot":"A"},{"lot":"B"}]}`, "B"},
		{"object is not a value", "{target: v_, source: a}", `{"a":{"b":1}}`, errorf("expected a single value, found an object")},
		{"optional missing is null", "{target: v_, source: a}", `{}`, nil},
		{"default when missing", "{target: v_, source: a, default: PCS}", `{}`, "PCS"},
		{"default when null", "{target: v_, source: a, default: 0}", `{"a":null}`, 0.0},
		{"mandatory missing", "{target: v_, source: a, mandatory: true}", `{}`, errorf("v_ (from a): expected a value (mandatory), found absent")},
		{"mandatory null", "{target: v_, source: a, mandatory: true}", `{"a":null}`, errorf("found null")},
		{"mandatory with default", "{target: v_, source: a, mandatory: true, default: X}", `{}`, "X"},
		{"bool passes", "{target: v_, source: a}", `{"a":true}`, true},
		{"translate", "{target: v_, source: a, translate: units}", `{"a":"KG"}`, "Kilogram"},
		{"translate after transforms", "{target: v_, source: a, transforms: [trim, upper], translate: units}", `{"a":" pcs "}`, "Pieces"},
		{"translate strict", "{target: v_, source: a, translate: units}", `{"a":"BOX"}`, errorf(`expected one of "KG", "PCS" (table units), found "BOX"`)},
		{"translate ignore case", "{target: v_, source: a, translate: unitsCI}", `{"a":"pcs"}`, "Pieces"},
		{"translate default", "{target: v_, source: a, translate: unitsDefault}", `{"a":"BOX"}`, "Other"},
		{"translate passthrough", "{target: v_, source: a, translate: unitsPass}", `{"a":"BOX"}`, "BOX"},
		{"translate bool", "{target: v_, source: a, translate: flags}", `{"a":false}`, "No"},
		{"translate number", "{target: v_, source: a, translate: flags}", `{"a":1}`, "One"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := strings.Replace(tt.input, "{", `{"id":"K1",`, 1)
			input = strings.Replace(input, ",}", "}", 1)
			got, err := mapOne(t, "      - "+tt.field+"\n", input)
			if we, ok := tt.want.(wantErr); ok {
				if err == nil || !strings.Contains(err.Error(), string(we)) {
					t.Fatalf("err = %v, want it to contain %q (result %v)", err, we, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			if v, ok := got["v_"]; !ok || !reflect.DeepEqual(v, tt.want) {
				t.Errorf("v_ = %#v (present %v), want %#v", v, ok, tt.want)
			}
		})
	}
}

type wantErr string

func errorf(s string) wantErr { return wantErr(s) }

func TestEveryFailingFieldIsListed(t *testing.T) {
	fields := `      - {target: a_, source: a, mandatory: true}
      - {target: b_, source: b, transforms: [number]}
      - {target: c_, source: c, translate: units}
      - {target: d_, source: d}
`
	_, err := mapOne(t, fields, `{"id":"K9","b":"x","c":"BOX","d":"ok"}`)
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if me.Entity != "e" || me.Key != "K9" || len(me.Fields) != 3 {
		t.Fatalf("error = %+v", me)
	}
	want := []FieldError{
		{Field: "a_", Source: "a", Expected: "a value (mandatory)", Found: "absent"},
		{Field: "b_", Source: "b", Expected: "a number", Found: `"x"`},
		{Field: "c_", Source: "c", Expected: `one of "KG", "PCS" (table units)`, Found: `"BOX"`},
	}
	if !reflect.DeepEqual(me.Fields, want) {
		t.Errorf("fields =\n%+v\nwant\n%+v", me.Fields, want)
	}
	if !strings.HasPrefix(me.Error(), "cannot map e K9: a_ (from a): expected a value (mandatory), found absent; b_") {
		t.Errorf("message = %s", me.Error())
	}
}

func TestKeyAndVersion(t *testing.T) {
	s := specWith(t, "")
	plan, err := Compile(s, s.Entity("e"))
	if err != nil {
		t.Fatal(err)
	}
	rec := map[string]any{"id": "K1", "modified": "2024-03-01T10:00:00Z"}
	if k, err := plan.Key(rec); err != nil || k != "K1" {
		t.Errorf("Key = %q, %v", k, err)
	}
	if v, err := plan.Version(rec); err != nil || v != 1709287200000000 {
		t.Errorf("Version = %d, %v", v, err)
	}
	for _, bad := range []map[string]any{{}, {"id": ""}, {"id": map[string]any{}}} {
		if _, err := plan.Key(bad); err == nil {
			t.Errorf("Key(%v) accepted", bad)
		}
	}
	if _, err := plan.Version(map[string]any{"id": "K1"}); err == nil {
		t.Error("missing version accepted")
	}
	if _, err := plan.Version(map[string]any{"modified": "soon"}); err == nil {
		t.Error("bad version accepted")
	}
}

func TestCompositeKey(t *testing.T) {
	s := specWith(t, "")
	s.Entity("e").Key = "{{m}}/{{b}}"
	plan, err := Compile(s, s.Entity("e"))
	if err != nil {
		t.Fatal(err)
	}
	if k, err := plan.Key(map[string]any{"m": "TG11", "b": 7.0}); err != nil || k != "TG11/7" {
		t.Errorf("Key = %q, %v", k, err)
	}
	if _, err := plan.Key(map[string]any{"m": "TG11"}); err == nil {
		t.Error("partial composite key accepted")
	}
}

func TestJSONAndHash(t *testing.T) {
	fields := `      - {target: s_, source: s}
      - {target: n_, source: n}
      - {target: b_, source: b}
      - {target: z_, source: z}
`
	s := specWith(t, fields)
	plan, _ := Compile(s, s.Entity("e"))
	var rec any
	_ = json.Unmarshal([]byte(`{"id":"K\"1","s":"a<b>\n\u0001","n":1e21,"b":false}`), &rec)
	res, err := plan.Map(rec)
	if err != nil {
		t.Fatal(err)
	}
	got := string(res.AppendJSON(nil))
	want := `{"k_":"K\"1","s_":"a<b>\n\u0001","n_":1000000000000000000000,"b_":false,"z_":null}`
	if got != want {
		t.Errorf("JSON = %s\nwant   %s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil || !reflect.DeepEqual(back, res.Map()) {
		t.Errorf("JSON does not round-trip: %v %v", back, err)
	}

	h1 := res.Hash()
	res2, _ := plan.Map(rec)
	if res2.Hash() != h1 || len(h1) != 32 {
		t.Errorf("hash not stable: %s %s", h1, res2.Hash())
	}
	// Any change of value, type or name changes the hash.
	names := []string{"k_", "s_", "n_", "b_", "z_"}
	values := func() []Value {
		v := make([]Value, res.Len())
		for i := range v {
			v[i] = res.Value(i)
		}
		return v
	}
	if NewResult(names, values()).Hash() != h1 {
		t.Error("an equal result built another way hashes differently")
	}
	v0, v1, v2, v3 := values(), values(), values(), values()
	v0[1] = String("a<b>\n\x01 ")
	v1[2] = String("1000000000000000000000")
	v3[3] = Bool(true)
	for i, v := range [][]Value{v0, v1, v3} {
		if NewResult(names, v).Hash() == h1 {
			t.Errorf("variant %d hashes equal", i)
		}
	}
	if NewResult([]string{"k_", "s_", "n_", "b_", "z2_"}, v2).Hash() == h1 {
		t.Error("a renamed field hashes equal")
	}
	// Field boundaries are unambiguous: ("ab","c") differs from ("a","bc").
	a := NewResult([]string{"x", "y"}, []Value{String("ab"), String("c")})
	b := NewResult([]string{"x", "y"}, []Value{String("a"), String("bc")})
	if a.Hash() == b.Hash() {
		t.Error("length prefixing broken")
	}
}

func TestExampleSpecsCompile(t *testing.T) {
	for _, f := range []string{"businesscentral", "s4hana"} {
		s, err := spec.Load("../../testdata/specs/" + f + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		ps, err := CompileSpec(s)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(ps.Entities) != len(s.Entities) || len(ps.Triggers) != len(s.Triggers) {
			t.Errorf("%s: compiled %d entities, %d triggers", f, len(ps.Entities), len(ps.Triggers))
		}
	}
}
