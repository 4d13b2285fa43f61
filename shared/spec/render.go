package spec

import (
	"fmt"
	"io"
	"strings"
)

var systemNames = map[string]string{
	"businesscentral": "Microsoft Dynamics 365 Business Central",
	"s4hana":          "SAP S/4HANA Cloud",
	"exact":           "Exact Online",
	"generic":         "Generic ERP (signed webhook)",
}

var directionNames = map[string]string{"erp-to-alisqi": "ERP → AlisQI", "alisqi-to-erp": "AlisQI → ERP", "both": "both ways"}

// Render writes the workshop's field-mapping document for s, in Markdown.
func Render(w io.Writer, s *Spec) error {
	r := &renderer{w: w}
	r.line("# Integration spec: %s", s.Connection)
	r.line("")
	if s.Description != "" {
		r.line("%s", s.Description)
		r.line("")
	}
	r.line("| | |")
	r.line("|---|---|")
	r.line("| ERP | %s |", cell(systemNames[s.ERP.System]))
	if s.ERP.BaseURL != "" {
		r.line("| ERP API | `%s` |", cell(s.ERP.BaseURL))
	}
	r.line("| AlisQI | `%s` — %d calls/minute, up to %d results per storeResults call |", cell(s.AlisQI.BaseURL), s.AlisQI.CallsPerMinute, s.AlisQI.BatchSize)
	r.line("| Time zone for AlisQI dates | %s |", s.Timezone)
	r.line("")

	r.line("## Entities")
	r.line("")
	r.line("| Entity | Kind | Owner | Direction | Trigger | Frequency | ERP resource | AlisQI set | Key field |")
	r.line("|---|---|---|---|---|---|---|---|---|")
	for _, name := range s.EntityOrder {
		e := s.Entities[name]
		r.line("| [%s](#%s) | %s | %s | %s | %s | %s | `%s` | %d (%s) | `%s` |", name, anchor(name), e.Kind, owner(e.Owner), directionNames[e.Direction],
			e.Trigger, frequency(e), cell(e.Resource), e.AlisQI.Set, typeName(e.AlisQI.Type), e.AlisQI.KeyField)
	}
	r.line("")
	for _, name := range s.EntityOrder {
		r.entity(s, s.Entities[name])
	}

	if len(s.Translations) > 0 {
		r.line("## Translation tables")
		r.line("")
		for _, name := range sortedKeys(s.Translations) {
			t := s.Translations[name]
			r.line("### %s", name)
			r.line("")
			if t.Description != "" {
				r.line("%s", t.Description)
				r.line("")
			}
			r.line("Unknown values: %s.%s", fallbackText(t), map[bool]string{true: " Case is ignored.", false: ""}[t.IgnoreCase])
			r.line("")
			r.line("| ERP value | AlisQI value |")
			r.line("|---|---|")
			for _, k := range sortedKeys(t.Values) {
				r.line("| `%s` | %s |", cell(k), cell(t.Values[k]))
			}
			r.line("")
		}
	}
	if len(s.Conversions) > 0 {
		r.line("## Unit conversion tables")
		r.line("")
		for _, name := range sortedKeys(s.Conversions) {
			table := s.Conversions[name]
			units := sortedKeys(table)
			parts := make([]string, len(units))
			for i, u := range units {
				parts[i] = fmt.Sprintf("%s = %g", u, table[u])
			}
			r.line("- **%s** (factor to the base unit): %s", name, strings.Join(parts, ", "))
		}
		r.line("")
	}
	if len(s.Triggers) > 0 {
		r.line("## Quality triggers")
		r.line("")
		for _, t := range s.Triggers {
			r.line("### %s", t.Name)
			r.line("")
			on := "any change"
			if len(t.On) > 0 {
				on = strings.Join(t.On, ", ")
			}
			r.line("- **Event:** %s on [%s](#%s)", on, t.Entity, anchor(t.Entity))
			when := "always"
			if t.When != "" {
				when = "`" + t.When + "`"
			}
			r.line("- **Condition:** %s", when)
			r.line("- **Opens:** an inspection in AlisQI set %d, key field `%s`", t.Inspection.Set, t.Inspection.KeyField)
			r.line("")
			r.fields(t.Inspection.Fields)
		}
	}
	if len(s.Outcomes) > 0 {
		r.line("## Outcomes (decisions back to the ERP)")
		r.line("")
		for _, o := range s.Outcomes {
			r.line("### %s", o.Name)
			r.line("")
			r.line("- **Decision field:** `%s` in AlisQI set %d; `%s` holds the key of ERP entity [%s](#%s)", o.Field, o.Set, o.KeyField, o.Entity, anchor(o.Entity))
			poll := "none (workflow POST only)"
			if o.Poll != "" {
				poll = "`" + o.Poll + "`"
			}
			r.line("- **Polling fallback:** %s", poll)
			r.line("")
			r.line("| Decision | AlisQI values | ERP action | Send results | Follow-up | Parameters |")
			r.line("|---|---|---|---|---|---|")
			for _, verdict := range []string{"accept", "reject", "block", "conditional"} {
				d, ok := o.Decisions[verdict]
				if !ok {
					continue
				}
				params := make([]string, 0, len(d.Params))
				for _, k := range sortedKeys(d.Params) {
					params = append(params, k+"="+d.Params[k])
				}
				r.line("| %s | %s | %s | %s | %s | %s |", verdict, cell(strings.Join(d.Values, ", ")), d.Action, yes(d.Results), cell(d.FollowUp), cell(strings.Join(params, ", ")))
			}
			r.line("")
		}
	}
	if len(s.Examples) > 0 {
		r.line("## Test plan (examples)")
		r.line("")
		r.line("`qbridge spec test` runs these against the mapping engine.")
		r.line("")
		r.line("| Example | Entity | Expects |")
		r.line("|---|---|---|")
		for _, ex := range s.Examples {
			var what []string
			if len(ex.Expect) > 0 {
				what = append(what, fmt.Sprintf("%d fields", len(ex.Expect)))
			}
			if len(ex.ExpectErrors) > 0 {
				what = append(what, "errors on "+strings.Join(ex.ExpectErrors, ", "))
			}
			if len(ex.ExpectTriggers) > 0 {
				what = append(what, "triggers "+strings.Join(ex.ExpectTriggers, ", "))
			}
			r.line("| %s | %s | %s |", cell(ex.Name), ex.Entity, cell(strings.Join(what, "; ")))
		}
		r.line("")
	}
	return r.err
}

func (r *renderer) entity(s *Spec, e *Entity) {
	r.line("### %s", e.Name)
	r.line("")
	r.line("- **Source:** %s resource `%s`, owned by %s, flowing %s", systemNames[s.ERP.System], cell(e.Resource), owner(e.Owner), directionNames[e.Direction])
	r.line("- **Trigger:** %s", triggerText(e))
	r.line("- **AlisQI:** %s %d, upsert on `%s`%s%s", typeName(e.AlisQI.Type), e.AlisQI.Set, e.AlisQI.KeyField,
		map[bool]string{true: ", update only", false: ""}[e.AlisQI.EditOnly], map[bool]string{true: ", adds unknown list options", false: ""}[e.AlisQI.AddListOptions])
	version := "none (content hash only)"
	if e.Version != "" {
		version = "`" + e.Version + "`"
	}
	r.line("- **ERP key:** `%s`; **version:** %s", cell(e.Key), version)
	if e.OnDelete.Action == "mark" {
		var sets []string
		for _, k := range sortedKeys(e.OnDelete.Fields) {
			sets = append(sets, fmt.Sprintf("`%s` = %s", k, e.OnDelete.Fields[k]))
		}
		r.line("- **On delete in the ERP:** mark the AlisQI result: %s", strings.Join(sets, ", "))
	} else {
		r.line("- **On delete in the ERP:** recorded in the audit trail; AlisQI keeps the result")
	}
	r.line("")
	r.fields(e.Fields)
}

func (r *renderer) fields(fields []Field) {
	r.line("| AlisQI field | Source | Mandatory | Default | Transforms | Translation |")
	r.line("|---|---|---|---|---|---|")
	for _, f := range fields {
		src := ""
		switch {
		case f.Source != "":
			src = "`" + f.Source + "`"
		case f.Template != "":
			src = "template `" + f.Template + "`"
		default:
			src = fmt.Sprintf("constant %v", f.Constant)
		}
		def := ""
		if f.Default != nil {
			def = fmt.Sprint(f.Default)
		}
		ts := make([]string, len(f.Transforms))
		for i, t := range f.Transforms {
			ts[i] = t.String()
		}
		r.line("| `%s` | %s | %s | %s | %s | %s |", f.Target, cell(src), yes(f.Mandatory), cell(def), cell(strings.Join(ts, ", ")), f.Translate)
	}
	r.line("")
}

type renderer struct {
	w   io.Writer
	err error
}

func (r *renderer) line(format string, args ...any) {
	if r.err == nil {
		_, r.err = fmt.Fprintf(r.w, format+"\n", args...)
	}
}

// cell escapes what would break a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// anchor is GitHub's heading anchor for a one-word heading.
func anchor(s string) string { return strings.ToLower(s) }

func owner(o string) string {
	if o == "alisqi" {
		return "AlisQI"
	}
	return "ERP"
}

func typeName(t string) string {
	if t == "selectionList" {
		return "selection list"
	}
	return "measurement set"
}

func frequency(e *Entity) string {
	if e.Schedule == "" {
		return "on change"
	}
	return "`" + e.Schedule + "`"
}

func triggerText(e *Entity) string {
	switch e.Trigger {
	case TriggerSchedule:
		return "scheduled pull `" + e.Schedule + "`"
	case TriggerBoth:
		return "ERP webhook events, plus a scheduled pull `" + e.Schedule + "`"
	}
	return "ERP webhook events"
}

func fallbackText(t Translation) string {
	switch t.Fallback {
	case FallbackDefault:
		return fmt.Sprintf("written as %q", t.Default)
	case FallbackPassthrough:
		return "passed through unchanged"
	}
	return "refused (the record goes to the dead-letter queue with the reason)"
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}
