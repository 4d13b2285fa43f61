package ops

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/qbridge/qbridge/shared/alisqi"
	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/quality"
)

// Preview is POST /ops/preview: what qbridge would write for a record,
// written nowhere.
type Preview struct {
	Connection  string               `json:"connection"`
	Entity      string               `json:"entity"`
	Key         string               `json:"key,omitempty"`
	Version     int64                `json:"version,omitempty"`
	Result      map[string]any       `json:"result,omitempty"`
	Hash        string               `json:"hash,omitempty"`
	Errors      []mapping.FieldError `json:"errors,omitempty"`
	Inspections []InspectionPreview  `json:"inspections,omitempty"`
	// Current is AlisQI's result with the same key, and Changes what the
	// write would change in it.
	Current      map[string]any `json:"current,omitempty"`
	Changes      []Change       `json:"changes,omitempty"`
	CompareError string         `json:"compareError,omitempty"`
}

// InspectionPreview is an inspection a trigger would open.
type InspectionPreview struct {
	Trigger string         `json:"trigger"`
	Set     int            `json:"set"`
	Result  map[string]any `json:"result"`
}

// Change is one field the write would change.
type Change struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

func (s *Service) preview(ctx context.Context, body []byte) (Preview, error) {
	var in struct {
		Connection string         `json:"connection"`
		Entity     string         `json:"entity"`
		Action     string         `json:"action"`
		Record     map[string]any `json:"record"`
		Compare    *bool          `json:"compare"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Record == nil {
		return Preview{}, model.Errorf(model.EInvalid, `send {"connection": ..., "entity": ..., "record": {...}}`)
	}
	c, ok := s.Connections.Get(in.Connection)
	if !ok {
		return Preview{}, model.Errorf(model.ENotFound, "unknown connection %q", in.Connection)
	}
	e := c.Spec.Entity(in.Entity)
	if e == nil {
		return Preview{}, model.Errorf(model.ENotFound, "connection %s has no entity %q", in.Connection, in.Entity)
	}
	plan := c.Plans.Entities[e.Name]
	p := Preview{Connection: in.Connection, Entity: in.Entity}
	p.Key, _ = plan.Key(in.Record)
	p.Version, _ = plan.Version(in.Record)
	res, err := plan.Map(in.Record)
	var me *mapping.Error
	switch {
	case err == nil:
	case asMappingError(err, &me):
		p.Errors = me.Fields
		return p, nil
	default:
		return p, model.Errorf(model.EInvalid, "%v", err)
	}
	p.Result, p.Hash = res.Map(), res.Hash()
	action := model.Action(in.Action)
	if action == "" {
		action = model.ActionUpdated
	}
	fired, err := c.Triggers.Fire(quality.Event{Entity: e.Name, Kind: e.Kind, Key: p.Key, Action: action, Source: "preview"}, in.Record, nil)
	if err != nil {
		return p, model.Errorf(model.EInvalid, "trigger: %v", err)
	}
	for _, f := range fired {
		p.Inspections = append(p.Inspections, InspectionPreview{Trigger: f.Trigger, Set: f.Set, Result: f.Result.Map()})
	}
	if in.Compare != nil && !*in.Compare {
		return p, nil
	}
	client, err := s.Connections.AlisQI(ctx, c)
	if err != nil {
		p.CompareError = err.Error()
		return p, nil
	}
	key := p.Result[e.AlisQI.KeyField]
	cur, err := client.GetResults(ctx, alisqi.ResultsQuery{SetID: e.AlisQI.Set, Limit: 1, Filter: map[string]any{e.AlisQI.KeyField: []map[string]any{{"value": key}}}})
	if err != nil {
		p.CompareError = "cannot read AlisQI: " + err.Error()
		return p, nil
	}
	var current map[string]any
	if len(cur) > 0 {
		current = cur[0]
		p.Current = current
	}
	for i := 0; i < res.Len(); i++ {
		name := res.Name(i)
		to := res.Value(i).Any()
		from, had := current[name]
		if !had || fmt.Sprint(from) != fmt.Sprint(to) {
			if !had {
				from = nil
			}
			if from == nil && to == nil {
				continue
			}
			p.Changes = append(p.Changes, Change{Field: name, From: from, To: to})
		}
	}
	return p, nil
}

func asMappingError(err error, target **mapping.Error) bool {
	e, ok := err.(*mapping.Error)
	if ok {
		*target = e
	}
	return ok
}
