package spec

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // Lambda's provided.al2023 image may lack zoneinfo

	"github.com/qbridge/qbridge/shared/record"
	"github.com/qbridge/qbridge/shared/rules"
	"github.com/qbridge/qbridge/shared/schedule"
)

var entityName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

type checker struct {
	s        *Spec
	problems Problems
}

// at records a problem at the value of ptr (or its nearest ancestor).
func (c *checker) at(ptr, format string, args ...any) {
	c.atPos(c.s.positions.lookup(ptr, false), format, args...)
}

// atKey records a problem at the mapping key of ptr.
func (c *checker) atKey(ptr, format string, args ...any) {
	c.atPos(c.s.positions.lookup(ptr, true), format, args...)
}

func (c *checker) atPos(p pos, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.s.File, Line: p.line, Column: p.column, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) semantics() {
	s := c.s
	if _, err := time.LoadLocation(s.Timezone); err != nil {
		c.at("/timezone", "unknown time zone %q; use an IANA name such as Europe/Amsterdam", s.Timezone)
	}
	for _, name := range sortedKeys(s.Translations) {
		t := s.Translations[name]
		ptr := "/translations/" + escapePointer(name)
		if t.Fallback == FallbackDefault && t.Default == "" {
			c.at(ptr+"/fallback", "translation %q falls back to its default but has none; add default: or use fallback: strict", name)
		}
		if t.IgnoreCase {
			seen := map[string]string{}
			for _, k := range sortedKeys(t.Values) {
				if prev, ok := seen[strings.ToLower(k)]; ok {
					c.atKey(ptr+"/values/"+escapePointer(k), "translation %q ignores case, so %q and %q are the same value", name, prev, k)
				}
				seen[strings.ToLower(k)] = k
			}
		}
	}
	for _, name := range s.EntityOrder {
		if !entityName.MatchString(name) {
			c.atKey("/entities/"+escapePointer(name), "entity name %q must be a letter followed by letters, digits or _ (it is used in URLs and metrics)", name)
		}
		c.entity(name, s.Entities[name])
	}
	c.triggers()
	c.outcomes()
	c.examples()
}

func (c *checker) entity(name string, e *Entity) {
	ptr := "/entities/" + escapePointer(name)
	switch e.Trigger {
	case TriggerSchedule, TriggerBoth:
		if e.Schedule == "" {
			c.at(ptr+"/trigger", "entity %q has trigger %s but no schedule; add schedule: rate(15 minutes) or a cron(...) expression", name, e.Trigger)
		}
	case TriggerEvent:
		if e.Schedule != "" {
			c.at(ptr+"/schedule", "entity %q has a schedule but trigger event; set trigger: both to also pull on a schedule", name)
		}
	}
	if e.Schedule != "" {
		if _, err := schedule.Parse(e.Schedule); err != nil {
			c.at(ptr+"/schedule", "%v", err)
		}
	}
	if e.Owner == "alisqi" && e.Direction == "erp-to-alisqi" {
		c.at(ptr+"/direction", "entity %q is owned by AlisQI, so it cannot flow erp-to-alisqi; use alisqi-to-erp", name)
	}
	c.pathOrTemplate(ptr+"/key", e.Key)
	c.path(ptr+"/version", e.Version)
	c.fields(ptr+"/fields", e.Fields)
	c.keyField(ptr+"/alisqi/keyField", e.AlisQI.KeyField, e.Fields)
	if e.OnDelete.Action == "mark" && len(e.OnDelete.Fields) == 0 {
		c.at(ptr+"/onDelete", "onDelete mark needs fields to set, e.g. fields: {active_: \"0\"}")
	}
}

// pathOrTemplate checks a key: a path, or a template for composite keys.
func (c *checker) pathOrTemplate(ptr, p string) {
	if strings.Contains(p, "{{") {
		if _, err := record.ParseTemplate(p); err != nil {
			c.at(ptr, "%v", err)
		}
		return
	}
	c.path(ptr, p)
}

func (c *checker) path(ptr, p string) {
	if p == "" {
		return
	}
	if _, err := record.ParsePath(p); err != nil {
		c.at(ptr, "%v", err)
	}
}

// fields checks one list of field mappings.
func (c *checker) fields(ptr string, fields []Field) {
	targets := map[string]int{}
	for i, f := range fields {
		fp := fmt.Sprintf("%s/%d", ptr, i)
		if prev, dup := targets[f.Target]; dup {
			c.at(fp+"/target", "duplicate target %q (also field %d); each AlisQI field is mapped once", f.Target, prev+1)
		}
		targets[f.Target] = i
		n := 0
		for _, set := range []bool{f.Source != "", f.Template != "", f.Constant != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			c.at(fp, "field %q needs exactly one of source, template or constant (has %d)", f.Target, n)
		}
		c.path(fp+"/source", f.Source)
		if f.Template != "" {
			if _, err := record.ParseTemplate(f.Template); err != nil {
				c.at(fp+"/template", "%v", err)
			}
		}
		if f.Constant != nil && (len(f.Transforms) > 0 || f.Translate != "") {
			c.at(fp+"/constant", "field %q is a constant; drop its transforms and translate", f.Target)
		}
		if f.Translate != "" {
			if _, ok := c.s.Translations[f.Translate]; !ok {
				c.at(fp+"/translate", "unknown translation table %q; defined: %s", f.Translate, listOrNone(sortedKeys(c.s.Translations)))
			}
		}
		for j, t := range f.Transforms {
			c.transform(fmt.Sprintf("%s/transforms/%d", fp, j), t)
		}
	}
}

func (c *checker) transform(ptr string, t Transform) {
	switch t.Op {
	case "convert":
		table, ok := c.s.Conversions[t.Table]
		if !ok {
			c.at(ptr+"/convert/table", "unknown conversion table %q; defined: %s", t.Table, listOrNone(sortedKeys(c.s.Conversions)))
			return
		}
		if (t.From == "") == (t.FromPath == "") {
			c.at(ptr+"/convert", "convert needs exactly one of from (a fixed unit) or fromPath (the record's unit field)")
		}
		if t.From != "" {
			if _, ok := table[t.From]; !ok {
				c.at(ptr+"/convert/from", "unit %q is not in conversion table %q; it has %s", t.From, t.Table, strings.Join(sortedKeys(table), ", "))
			}
		}
		c.path(ptr+"/convert/fromPath", t.FromPath)
		if _, ok := table[t.To]; !ok {
			c.at(ptr+"/convert/to", "unit %q is not in conversion table %q; it has %s", t.To, t.Table, strings.Join(sortedKeys(table), ", "))
		}
	case "date":
		if t.Layout != "" {
			ref := time.Date(2024, 3, 9, 14, 5, 6, 0, time.UTC)
			if _, err := time.Parse(t.Layout, ref.Format(t.Layout)); err != nil || !strings.Contains(t.Layout, "2006") {
				c.at(ptr+"/date/layout", "date layout %q is not a Go layout with a year; write the reference time 2006-01-02 15:04:05 in the ERP's shape, e.g. 02.01.2006", t.Layout)
			}
		}
	}
}

// keyField checks the AlisQI key field is mapped, mandatory and not a constant.
func (c *checker) keyField(ptr, key string, fields []Field) {
	if key == "" {
		return
	}
	for _, f := range fields {
		if f.Target != key {
			continue
		}
		if !f.Mandatory {
			c.at(ptr, "key field %q must be mandatory: a result without its key cannot be upserted; add mandatory: true to its mapping", key)
		}
		if f.Constant != nil {
			c.at(ptr, "key field %q is a constant, so every record would overwrite the same result", key)
		}
		return
	}
	c.at(ptr, "key field %q is not mapped; add a field with target: %s", key, key)
}

func (c *checker) triggers() {
	names := map[string]bool{}
	for i, t := range c.s.Triggers {
		ptr := fmt.Sprintf("/triggers/%d", i)
		if names[t.Name] {
			c.at(ptr+"/name", "duplicate trigger name %q", t.Name)
		}
		names[t.Name] = true
		c.entityRef(ptr+"/entity", t.Entity)
		if t.When != "" {
			cond, err := rules.Compile(t.When)
			if err != nil {
				c.at(ptr+"/when", "condition does not compile: %s", oneLine(err.Error()))
			}
			c.s.Triggers[i].cond = cond
		}
		c.fields(ptr+"/inspection/fields", t.Inspection.Fields)
		c.keyField(ptr+"/inspection/keyField", t.Inspection.KeyField, t.Inspection.Fields)
	}
}

func (c *checker) outcomes() {
	names := map[string]bool{}
	for i, o := range c.s.Outcomes {
		ptr := fmt.Sprintf("/outcomes/%d", i)
		if names[o.Name] {
			c.at(ptr+"/name", "duplicate outcome name %q", o.Name)
		}
		names[o.Name] = true
		c.entityRef(ptr+"/entity", o.Entity)
		if o.Poll != "" {
			if _, err := schedule.Parse(o.Poll); err != nil {
				c.at(ptr+"/poll", "%v", err)
			}
		}
		values := map[string]string{}
		for _, verdict := range sortedKeys(o.Decisions) {
			d := o.Decisions[verdict]
			dp := ptr + "/decisions/" + verdict
			for j, v := range d.Values {
				if other, dup := values[v]; dup {
					c.at(fmt.Sprintf("%s/values/%d", dp, j), "value %q already means %s; a value means one decision", v, other)
				}
				values[v] = verdict
			}
			if d.Action == "usageDecision" && c.s.ERP.System != "s4hana" {
				c.at(dp+"/action", "usageDecision is an SAP S/4HANA action; erp.system is %s", c.s.ERP.System)
			}
			if d.Action == "followUp" && d.FollowUp == "" {
				c.at(dp+"/action", "action followUp needs followUp: text saying what must happen")
			}
		}
	}
}

func (c *checker) examples() {
	for i, ex := range c.s.Examples {
		ptr := fmt.Sprintf("/examples/%d", i)
		e := c.entityRef(ptr+"/entity", ex.Entity)
		// An empty expectErrors or expectTriggers list is an expectation: none.
		if len(ex.Expect) == 0 && ex.ExpectErrors == nil && ex.ExpectTriggers == nil {
			c.at(ptr, "example %q expects nothing; add expect, expectErrors or expectTriggers", ex.Name)
		}
		if e == nil {
			continue
		}
		targets := map[string]bool{}
		for _, f := range e.Fields {
			targets[f.Target] = true
		}
		for _, k := range sortedKeys(ex.Expect) {
			if !targets[k] {
				c.atKey(ptr+"/expect/"+escapePointer(k), "example %q expects field %q, which entity %q does not map", ex.Name, k, ex.Entity)
			}
		}
		for j, k := range ex.ExpectErrors {
			if !targets[k] {
				c.at(fmt.Sprintf("%s/expectErrors/%d", ptr, j), "example %q expects an error on %q, which entity %q does not map", ex.Name, k, ex.Entity)
			}
		}
		for j, name := range ex.ExpectTriggers {
			t := c.s.Trigger(name)
			if t == nil || t.Entity != ex.Entity {
				c.at(fmt.Sprintf("%s/expectTriggers/%d", ptr, j), "example %q expects trigger %q, which is not a trigger of entity %q", ex.Name, name, ex.Entity)
			}
		}
	}
}

// entityRef checks a reference to an entity and returns it.
func (c *checker) entityRef(ptr, name string) *Entity {
	if e := c.s.Entities[name]; e != nil {
		return e
	}
	c.at(ptr, "unknown entity %q; defined: %s", name, listOrNone(c.s.EntityOrder))
	return nil
}

// Trigger returns the named trigger or nil.
func (s *Spec) Trigger(name string) *Trigger {
	for i := range s.Triggers {
		if s.Triggers[i].Name == name {
			return &s.Triggers[i]
		}
	}
	return nil
}

// Outcome returns the named outcome or nil.
func (s *Spec) Outcome(name string) *Outcome {
	for i := range s.Outcomes {
		if s.Outcomes[i].Name == name {
			return &s.Outcomes[i]
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func oneLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
