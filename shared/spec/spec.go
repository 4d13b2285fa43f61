// Package spec loads the integration spec: one YAML file per connection that
// holds everything the integration workshop decided (entities, field
// mappings, translations, quality triggers, outcomes and examples). Load
// validates it against the JSON Schema in schema.json and then checks it
// semantically, reporting every problem at once as file:line:column.
package spec

import (
	"sort"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/rules"
)

// Spec is one connection: an ERP tenant and an AlisQI installation.
type Spec struct {
	Version      int                    `yaml:"version"`
	Connection   string                 `yaml:"connection"`
	Description  string                 `yaml:"description"`
	Timezone     string                 `yaml:"timezone"` // for AlisQI date fields; default UTC
	ERP          ERP                    `yaml:"erp"`
	AlisQI       AlisQI                 `yaml:"alisqi"`
	Conversions  map[string]Conversion  `yaml:"conversions"`
	Translations map[string]Translation `yaml:"translations"`
	Entities     map[string]*Entity     `yaml:"entities"`
	Triggers     []Trigger              `yaml:"triggers"`
	Outcomes     []Outcome              `yaml:"outcomes"`
	Examples     []Example              `yaml:"examples"`

	// EntityOrder lists entity names in file order (maps lose it).
	EntityOrder []string `yaml:"-"`
	// File is the path the spec was read from, for messages.
	File string `yaml:"-"`

	positions positions
}

// ERP says which adapter talks to the ERP and where.
type ERP struct {
	System   string `yaml:"system"` // businesscentral | s4hana | exact | generic
	BaseURL  string `yaml:"baseUrl"`
	TokenURL string `yaml:"tokenUrl"`
	Scope    string `yaml:"scope"`
}

// AlisQI says where the AlisQI installation is and how hard qbridge may use it.
type AlisQI struct {
	BaseURL        string `yaml:"baseUrl"`
	CallsPerMinute int    `yaml:"callsPerMinute"` // the installation's limit; default 30
	BatchSize      int    `yaml:"batchSize"`      // results per storeResults call; default 500
}

// Conversion is a unit table: unit → factor to the table's base unit.
type Conversion map[string]float64

// Translation is a code table from ERP values to AlisQI values.
type Translation struct {
	Description string            `yaml:"description"`
	Values      map[string]string `yaml:"values"`
	Fallback    string            `yaml:"fallback"` // strict (default) | default | passthrough
	Default     string            `yaml:"default"`
	IgnoreCase  bool              `yaml:"ignoreCase"`
}

// Fallbacks of a translation for a value not in its table.
const (
	FallbackStrict      = "strict"
	FallbackDefault     = "default"
	FallbackPassthrough = "passthrough"
)

// Entity is one ERP resource flowing into one AlisQI set or selection list.
type Entity struct {
	Name      string     `yaml:"-"`
	Kind      model.Kind `yaml:"kind"`
	Owner     string     `yaml:"owner"`     // erp | alisqi
	Direction string     `yaml:"direction"` // erp-to-alisqi | alisqi-to-erp | both
	Trigger   string     `yaml:"trigger"`   // event | schedule | both
	Schedule  string     `yaml:"schedule"`  // EventBridge rate(...) or cron(...)
	Resource  string     `yaml:"resource"`  // ERP API resource, e.g. "items"
	Key       string     `yaml:"key"`       // source path of the ERP's key, or a template for composite keys
	Version   string     `yaml:"version"`   // source path of the change marker
	AlisQI    Target     `yaml:"alisqi"`
	Fields    []Field    `yaml:"fields"`
	OnDelete  OnDelete   `yaml:"onDelete"`
}

// Target is where mapped results go in AlisQI.
type Target struct {
	Set            int    `yaml:"set"`
	Type           string `yaml:"type"` // selectionList | measurementSet
	KeyField       string `yaml:"keyField"`
	EditOnly       bool   `yaml:"editOnly"`
	AddListOptions bool   `yaml:"addListOptions"`
}

// OnDelete says what an ERP deletion does in AlisQI, whose data is audit-proof:
// ignore it (audit only) or mark the result with constant field values.
type OnDelete struct {
	Action string            `yaml:"action"` // ignore (default) | mark
	Fields map[string]string `yaml:"fields"`
}

// Field maps one AlisQI field from the ERP record.
type Field struct {
	Target     string      `yaml:"target"`
	Source     string      `yaml:"source"`   // a path, or
	Template   string      `yaml:"template"` // "{{a}}-{{b}}", or
	Constant   any         `yaml:"constant"` // a fixed value
	Mandatory  bool        `yaml:"mandatory"`
	Default    any         `yaml:"default"` // the AlisQI value when the source is empty
	Transforms []Transform `yaml:"transforms"`
	Translate  string      `yaml:"translate"` // a translation table
}

// Transform is one step applied to a field's value, in order.
type Transform struct {
	Op       string // trim upper lower truncate number round date convert
	N        int    // truncate: runes; round: decimals
	Decimal  string // number: decimal separator, "." or ","
	Layout   string // date: Go layout of the input; empty = ISO 8601 / OData forms
	DateOnly bool   // date: write "2006-01-02" instead of a date-time
	Table    string // convert: conversion table
	From     string // convert: fixed source unit, or
	FromPath string // convert: path of the record's unit field
	To       string // convert: target unit
}

// Trigger opens an AlisQI inspection when an ERP event matches a condition.
type Trigger struct {
	Name       string     `yaml:"name"`
	Entity     string     `yaml:"entity"`
	On         []string   `yaml:"on"`   // actions; empty = any
	When       string     `yaml:"when"` // expr condition; empty = always
	Inspection Inspection `yaml:"inspection"`

	cond *rules.Condition // compiled at load
}

// Condition returns the compiled when-condition, or nil when there is none.
func (t *Trigger) Condition() *rules.Condition { return t.cond }

// Inspection is the AlisQI result a trigger creates.
type Inspection struct {
	Set      int     `yaml:"set"`
	KeyField string  `yaml:"keyField"`
	Fields   []Field `yaml:"fields"`
}

// Outcome maps an AlisQI field's values to decisions and ERP actions.
type Outcome struct {
	Name      string                  `yaml:"name"`
	Set       int                     `yaml:"set"`
	Field     string                  `yaml:"field"`    // the AlisQI field holding the decision
	KeyField  string                  `yaml:"keyField"` // the AlisQI field holding the ERP key
	Entity    string                  `yaml:"entity"`   // the ERP entity the key refers to
	Poll      string                  `yaml:"poll"`     // schedule of the polling fallback
	Decisions map[string]DecisionRule `yaml:"decisions"`
}

// DecisionRule is one verdict: the values that mean it and what the ERP does.
type DecisionRule struct {
	Values   []string          `yaml:"values"`
	Action   string            `yaml:"action"`  // see Actions
	Results  bool              `yaml:"results"` // also send the inspection results
	FollowUp string            `yaml:"followUp"`
	Params   map[string]string `yaml:"params"` // adapter-specific, e.g. SAP usage decision codes
}

// Actions the ERP can be asked to perform for a decision.
var Actions = []string{"none", "release", "blockItem", "blockLot", "preventShipment", "usageDecision", "followUp"}

// Example is one row of the executable test plan.
type Example struct {
	Name           string         `yaml:"name"`
	Entity         string         `yaml:"entity"`
	Action         string         `yaml:"action"` // for trigger expectations; default updated
	Input          map[string]any `yaml:"input"`
	Expect         map[string]any `yaml:"expect"`
	ExpectErrors   []string       `yaml:"expectErrors"`   // targets that must fail
	ExpectTriggers []string       `yaml:"expectTriggers"` // trigger names that must fire
}

// Entity returns the named entity or nil.
func (s *Spec) Entity(name string) *Entity {
	if s == nil {
		return nil
	}
	return s.Entities[name]
}

// Schedules returns every schedule the spec asks for, keyed by job name.
func (s *Spec) Schedules() []Job {
	var jobs []Job
	for _, name := range s.EntityOrder {
		e := s.Entities[name]
		if e.Trigger == TriggerSchedule || e.Trigger == TriggerBoth {
			jobs = append(jobs, Job{Name: "pull-" + name, Kind: JobPull, Entity: name, Schedule: e.Schedule})
		}
	}
	for _, o := range s.Outcomes {
		if o.Poll != "" {
			jobs = append(jobs, Job{Name: "poll-" + o.Name, Kind: JobPollDecisions, Outcome: o.Name, Schedule: o.Poll})
		}
	}
	return jobs
}

// Triggers of an entity's sync.
const (
	TriggerEvent    = "event"
	TriggerSchedule = "schedule"
	TriggerBoth     = "both"
)

// Job is a scheduled piece of work derived from the spec.
type Job struct {
	Name     string
	Kind     string // pull | pollDecisions
	Entity   string
	Outcome  string
	Schedule string
}

// Job kinds.
const (
	JobPull          = "pull"
	JobPollDecisions = "pollDecisions"
)

// Sets lists every AlisQI set the spec writes to or reads decisions from,
// sorted.
func (s *Spec) Sets() []int {
	seen := map[int]bool{}
	for _, name := range s.EntityOrder {
		seen[s.Entities[name].AlisQI.Set] = true
	}
	for _, t := range s.Triggers {
		seen[t.Inspection.Set] = true
	}
	for _, o := range s.Outcomes {
		seen[o.Set] = true
	}
	out := make([]int, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}
