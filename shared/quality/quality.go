// Package quality decides which AlisQI inspections an ERP change opens: the
// spec's quality triggers, each an event filter, a compiled condition and an
// inspection mapping.
package quality

import (
	"fmt"
	"slices"

	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/rules"
	"github.com/qbridge/qbridge/shared/spec"
)

// Triggers holds a spec's compiled triggers, by entity.
type Triggers struct {
	byEntity map[string][]*trigger
	previous map[string][]string
}

type trigger struct {
	t    *spec.Trigger
	plan *mapping.Plan
}

// Inspection is an AlisQI result a trigger opens.
type Inspection struct {
	Trigger  string
	Set      int
	KeyField string
	Result   mapping.Result
}

// Event is what happened, as a condition sees it in `event`.
type Event struct {
	Entity string
	Kind   model.Kind
	Key    string
	Action model.Action
	Source string
}

// New compiles the triggers of a checked spec with its compiled plans.
func New(s *spec.Spec, plans *mapping.Plans) (*Triggers, error) {
	ts := &Triggers{byEntity: map[string][]*trigger{}, previous: map[string][]string{}}
	for i := range s.Triggers {
		t := &s.Triggers[i]
		plan := plans.Triggers[t.Name]
		if plan == nil {
			return nil, fmt.Errorf("trigger %s has no compiled inspection", t.Name)
		}
		if t.When != "" && t.Condition() == nil {
			return nil, fmt.Errorf("trigger %s: condition was not compiled", t.Name)
		}
		ts.byEntity[t.Entity] = append(ts.byEntity[t.Entity], &trigger{t: t, plan: plan})
		if c := t.Condition(); c != nil {
			for _, f := range c.PreviousFields() {
				if !slices.Contains(ts.previous[t.Entity], f) {
					ts.previous[t.Entity] = append(ts.previous[t.Entity], f)
				}
			}
		}
	}
	for _, fs := range ts.previous {
		slices.Sort(fs)
	}
	return ts, nil
}

// PreviousFields lists the record fields the entity's conditions read from
// `previous`; the state store keeps just these between versions.
func (ts *Triggers) PreviousFields(entity string) []string { return ts.previous[entity] }

// Has reports whether the entity has any trigger.
func (ts *Triggers) Has(entity string) bool { return len(ts.byEntity[entity]) > 0 }

// Fire evaluates the entity's triggers for one change and maps the
// inspections of those that match. previous is nil for a first version.
func (ts *Triggers) Fire(ev Event, rec map[string]any, previous map[string]any) ([]Inspection, error) {
	var out []Inspection
	var env *rules.Env
	for _, tr := range ts.byEntity[ev.Entity] {
		if len(tr.t.On) > 0 && !slices.Contains(tr.t.On, string(ev.Action)) {
			continue
		}
		if c := tr.t.Condition(); c != nil {
			if env == nil {
				env = &rules.Env{Record: rec, Previous: previous, Event: map[string]any{
					"entity": ev.Entity, "kind": string(ev.Kind), "key": ev.Key, "action": string(ev.Action), "source": ev.Source,
				}}
			}
			ok, err := c.Eval(env)
			if err != nil {
				return nil, fmt.Errorf("trigger %s: %w", tr.t.Name, err)
			}
			if !ok {
				continue
			}
		}
		res, err := tr.plan.Map(rec)
		if err != nil {
			return nil, fmt.Errorf("trigger %s: %w", tr.t.Name, err)
		}
		out = append(out, Inspection{Trigger: tr.t.Name, Set: tr.t.Inspection.Set, KeyField: tr.t.Inspection.KeyField, Result: res})
	}
	return out, nil
}
