// Package testplan runs a spec's examples, the workshop's executable test
// and validation plan: each input record is mapped with the real engine and
// its result, field errors and fired triggers compared with what the
// example expects.
package testplan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"

	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/quality"
	"github.com/qbridge/qbridge/shared/spec"
)

// Report is the outcome of one example.
type Report struct {
	Name     string `json:"name"`
	Entity   string `json:"entity"`
	Mismatch []Diff `json:"mismatch,omitempty"`
}

// Pass reports whether the example held.
func (r Report) Pass() bool { return len(r.Mismatch) == 0 }

// Diff is one field (or trigger list) that differs from the expectation.
type Diff struct {
	Field string `json:"field"`
	Want  any    `json:"want"`
	Got   any    `json:"got"`
}

func (d Diff) String() string {
	return fmt.Sprintf("%s: want %s, got %s", d.Field, show(d.Want), show(d.Got))
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Run runs every example of a checked spec.
func Run(s *spec.Spec) ([]Report, error) {
	plans, err := mapping.CompileSpec(s)
	if err != nil {
		return nil, err
	}
	triggers, err := quality.New(s, plans)
	if err != nil {
		return nil, err
	}
	reports := make([]Report, 0, len(s.Examples))
	for _, ex := range s.Examples {
		reports = append(reports, runOne(s, plans, triggers, ex))
	}
	return reports, nil
}

func runOne(s *spec.Spec, plans *mapping.Plans, triggers *quality.Triggers, ex spec.Example) Report {
	r := Report{Name: ex.Name, Entity: ex.Entity}
	input := normalize(ex.Input).(map[string]any)
	plan := plans.Entities[ex.Entity]
	res, err := plan.Map(input)

	var failed []string
	var mErr *mapping.Error
	switch {
	case err == nil:
	case asMappingError(err, &mErr):
		for _, f := range mErr.Fields {
			failed = append(failed, f.Field)
		}
	default:
		r.Mismatch = append(r.Mismatch, Diff{Field: "(mapping)", Want: "a result", Got: err.Error()})
		return r
	}
	sort.Strings(failed)
	wantFailed := slices.Sorted(slices.Values(ex.ExpectErrors))
	if !slices.Equal(failed, wantFailed) {
		got := any(nonNil(failed))
		if mErr != nil {
			got = mErr.Fields
		}
		r.Mismatch = append(r.Mismatch, Diff{Field: "(errors)", Want: nonNil(wantFailed), Got: got})
	}
	if err != nil {
		return r
	}
	got := res.Map()
	for _, field := range sortedKeys(ex.Expect) {
		want := normalize(ex.Expect[field])
		if g, ok := got[field]; !ok || !reflect.DeepEqual(g, want) {
			r.Mismatch = append(r.Mismatch, Diff{Field: field, Want: want, Got: g})
		}
	}
	if ex.ExpectTriggers != nil {
		action := model.Action(ex.Action)
		if action == "" {
			action = model.ActionUpdated
		}
		e := s.Entity(ex.Entity)
		key, _ := plan.Key(input)
		fired, err := triggers.Fire(quality.Event{Entity: ex.Entity, Kind: e.Kind, Key: key, Action: action, Source: s.ERP.System}, input, nil)
		if err != nil {
			r.Mismatch = append(r.Mismatch, Diff{Field: "(triggers)", Want: ex.ExpectTriggers, Got: err.Error()})
			return r
		}
		names := []string{}
		for _, in := range fired {
			names = append(names, in.Trigger)
		}
		if !slices.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(ex.ExpectTriggers))) {
			r.Mismatch = append(r.Mismatch, Diff{Field: "(triggers)", Want: ex.ExpectTriggers, Got: names})
		}
	}
	return r
}

func asMappingError(err error, target **mapping.Error) bool {
	e, ok := err.(*mapping.Error)
	if ok {
		*target = e
	}
	return ok
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// normalize gives YAML-decoded values the shapes JSON decoding gives, so an
// example's input is exactly what an ERP payload would decode to.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
