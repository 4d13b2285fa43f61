package main

import (
	"sort"

	"github.com/qbridge/qbridge/shared/spec"
)

// scheduleDef is one EventBridge schedule the sync function serves.
type scheduleDef struct {
	Name       string            // rule name suffix: {connection}-{job}
	Expression string            // rate(...) or cron(...)
	Input      map[string]string // the event the sync function receives
}

// renewEvery renews Business Central subscriptions, which expire after 3
// days, well before they do.
const renewEvery = "rate(12 hours)"

// schedules derives every schedule from the specs: each entity pulled on a
// schedule, each outcome's decision polling, and BC subscription renewal.
func schedules(specs []*spec.Spec) []scheduleDef {
	var out []scheduleDef
	for _, s := range specs {
		for _, j := range s.Schedules() {
			in := map[string]string{"connection": s.Connection, "job": j.Name, "kind": j.Kind}
			if j.Entity != "" {
				in["entity"] = j.Entity
			}
			if j.Outcome != "" {
				in["outcome"] = j.Outcome
			}
			out = append(out, scheduleDef{Name: s.Connection + "-" + j.Name, Expression: j.Schedule, Input: in})
		}
		if s.ERP.System == "businesscentral" {
			out = append(out, scheduleDef{Name: s.Connection + "-renew-subscriptions", Expression: renewEvery,
				Input: map[string]string{"connection": s.Connection, "job": "renew-subscriptions", "kind": "renewSubscriptions"}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
