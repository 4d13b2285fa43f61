// Package mapping turns ERP records into flat AlisQI results. A spec entity
// is compiled once (at cold start) into a Plan: parsed paths, resolved
// translation and conversion tables, the time zone. Map then runs the plan
// per record without reflection and with few allocations.
package mapping

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/record"
	"github.com/qbridge/qbridge/shared/spec"
)

// AlisQIDateTime is AlisQI's date-time layout; dates are its first 10 bytes.
const AlisQIDateTime = "2006-01-02 15:04:05"

// Plan is a compiled field mapping.
type Plan struct {
	name     string
	fields   []fieldPlan
	names    []string         // the fields' targets, shared by every Result
	key      *record.Template // a composite key, or one path as {{path}}
	version  *record.Path
	keyField string
}

type fieldPlan struct {
	target     string
	source     *record.Path
	template   *record.Template
	constant   Value
	isConstant bool
	mandatory  bool
	def        Value
	hasDefault bool
	steps      []step
	translate  *translation
	label      string // what the field reads, for errors
	plain      bool   // an optional copy of one path: the fast path
}

type op uint8

const (
	opTrim op = iota
	opUpper
	opLower
	opTruncate
	opNumber
	opRound
	opDate
	opConvert
)

type step struct {
	op       op
	n        int
	decimal  byte
	layout   string
	dateOnly bool
	loc      *time.Location
	table    map[string]float64 // convert: upper-cased unit → factor
	from     float64            // convert: fixed unit's factor, or 0
	fromPath *record.Path
	to       float64
	toUnit   string
	tableRef string
}

type translation struct {
	name       string
	values     map[string]string
	fallback   string
	def        string
	ignoreCase bool
	expected   string // "one of A, B, C" for errors
}

// Plans holds the compiled plans of a whole spec.
type Plans struct {
	Entities map[string]*Plan // by entity name
	Triggers map[string]*Plan // inspections, by trigger name
}

// CompileSpec compiles every entity and trigger inspection of a checked spec.
func CompileSpec(s *spec.Spec) (*Plans, error) {
	ps := &Plans{Entities: map[string]*Plan{}, Triggers: map[string]*Plan{}}
	for _, name := range s.EntityOrder {
		p, err := Compile(s, s.Entities[name])
		if err != nil {
			return nil, err
		}
		ps.Entities[name] = p
	}
	for i := range s.Triggers {
		t := &s.Triggers[i]
		p, err := CompileFields(s, "trigger "+t.Name, t.Inspection.Fields, t.Inspection.KeyField)
		if err != nil {
			return nil, err
		}
		ps.Triggers[t.Name] = p
	}
	return ps, nil
}

// Compile builds the plan of one entity, with its key and version paths.
func Compile(s *spec.Spec, e *spec.Entity) (*Plan, error) {
	p, err := CompileFields(s, e.Name, e.Fields, e.AlisQI.KeyField)
	if err != nil {
		return nil, err
	}
	if e.Key != "" {
		src := e.Key
		if !strings.Contains(src, "{{") {
			src = "{{" + src + "}}"
		}
		k, err := record.ParseTemplate(src)
		if err != nil {
			return nil, fmt.Errorf("entity %s key: %w", e.Name, err)
		}
		p.key = &k
	}
	if e.Version != "" {
		v, err := record.ParsePath(e.Version)
		if err != nil {
			return nil, fmt.Errorf("entity %s version: %w", e.Name, err)
		}
		p.version = &v
	}
	return p, nil
}

// CompileFields builds a plan from a list of field mappings. The spec must
// have passed spec.Parse; errors here mean it did not.
func CompileFields(s *spec.Spec, name string, fields []spec.Field, keyField string) (*Plan, error) {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return nil, err
	}
	p := &Plan{name: name, keyField: keyField, fields: make([]fieldPlan, 0, len(fields))}
	for _, f := range fields {
		fp := fieldPlan{target: f.Target, mandatory: f.Mandatory}
		switch {
		case f.Source != "":
			path, err := record.ParsePath(f.Source)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", name, f.Target, err)
			}
			fp.source, fp.label = &path, f.Source
		case f.Template != "":
			t, err := record.ParseTemplate(f.Template)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", name, f.Target, err)
			}
			fp.template, fp.label = &t, f.Template
		default:
			v, ok := fromAny(normalizeNumber(f.Constant))
			if !ok {
				return nil, fmt.Errorf("%s.%s: constant must be text, a number or a boolean", name, f.Target)
			}
			fp.constant, fp.isConstant = v, true
		}
		if f.Default != nil {
			v, ok := fromAny(normalizeNumber(f.Default))
			if !ok {
				return nil, fmt.Errorf("%s.%s: default must be text, a number or a boolean", name, f.Target)
			}
			fp.def, fp.hasDefault = v, true
		}
		for _, t := range f.Transforms {
			st, err := compileStep(s, t, loc)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", name, f.Target, err)
			}
			fp.steps = append(fp.steps, st)
		}
		if f.Translate != "" {
			tr, ok := s.Translations[f.Translate]
			if !ok {
				return nil, fmt.Errorf("%s.%s: unknown translation %q", name, f.Target, f.Translate)
			}
			fp.translate = compileTranslation(f.Translate, tr)
		}
		fp.plain = fp.source != nil && len(fp.steps) == 0 && fp.translate == nil && !fp.hasDefault && !fp.mandatory
		p.fields = append(p.fields, fp)
		p.names = append(p.names, f.Target)
	}
	return p, nil
}

// normalizeNumber turns YAML integers into float64, as JSON decoding would.
func normalizeNumber(x any) any {
	switch t := x.(type) {
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	}
	return x
}

func compileStep(s *spec.Spec, t spec.Transform, loc *time.Location) (step, error) {
	switch t.Op {
	case "trim":
		return step{op: opTrim}, nil
	case "upper":
		return step{op: opUpper}, nil
	case "lower":
		return step{op: opLower}, nil
	case "truncate":
		return step{op: opTruncate, n: t.N}, nil
	case "round":
		return step{op: opRound, n: t.N}, nil
	case "number":
		dec := byte('.')
		if t.Decimal == "," {
			dec = ','
		}
		return step{op: opNumber, decimal: dec}, nil
	case "date":
		return step{op: opDate, layout: t.Layout, dateOnly: t.DateOnly, loc: loc}, nil
	case "convert":
		raw, ok := s.Conversions[t.Table]
		if !ok {
			return step{}, fmt.Errorf("unknown conversion table %q", t.Table)
		}
		table := make(map[string]float64, len(raw))
		for unit, f := range raw {
			table[strings.ToUpper(unit)] = f
		}
		st := step{op: opConvert, table: table, tableRef: t.Table, toUnit: t.To, to: table[strings.ToUpper(t.To)]}
		if t.From != "" {
			st.from = table[strings.ToUpper(t.From)]
		} else {
			p, err := record.ParsePath(t.FromPath)
			if err != nil {
				return step{}, err
			}
			st.fromPath = &p
		}
		if st.to == 0 || (t.From != "" && st.from == 0) {
			return step{}, fmt.Errorf("convert: unit not in table %q", t.Table)
		}
		return st, nil
	}
	return step{}, fmt.Errorf("unknown transform %q", t.Op)
}

func compileTranslation(name string, t spec.Translation) *translation {
	tr := &translation{name: name, values: make(map[string]string, len(t.Values)), fallback: t.Fallback, def: t.Default, ignoreCase: t.IgnoreCase}
	keys := make([]string, 0, len(t.Values))
	for k, v := range t.Values {
		if t.IgnoreCase {
			k = strings.ToLower(k)
		}
		tr.values[k] = v
		keys = append(keys, strconv.Quote(k))
	}
	slices.Sort(keys)
	if len(keys) > 8 {
		keys = append(keys[:8], "…")
	}
	tr.expected = "one of " + strings.Join(keys, ", ") + " (table " + name + ")"
	return tr
}

// Name is the entity (or trigger) the plan maps.
func (p *Plan) Name() string { return p.name }

// KeyField is the AlisQI field that identifies a result (storeResults keyField).
func (p *Plan) KeyField() string { return p.keyField }

// Key returns the record's ERP key as text.
func (p *Plan) Key(rec any) (string, error) {
	if p.key == nil {
		return "", fmt.Errorf("%s has no key path", p.name)
	}
	for _, path := range p.key.Paths() {
		v, ok := path.Lookup(rec)
		if !ok || v == nil {
			return "", fmt.Errorf("%s: key %s is missing", p.name, path)
		}
		if _, scalar := fromAny(v); !scalar {
			return "", fmt.Errorf("%s: key %s is %s, not a value", p.name, path, describe(v))
		}
		if record.Text(v) == "" {
			return "", fmt.Errorf("%s: key %s is empty", p.name, path)
		}
	}
	s, _ := p.key.Execute(rec)
	return s, nil
}

// Version returns the record's version (see model.ParseVersion), or 0 when
// the entity has no version path.
func (p *Plan) Version(rec any) (int64, error) {
	if p.version == nil {
		return 0, nil
	}
	v, ok := p.version.Lookup(rec)
	if !ok {
		return 0, fmt.Errorf("%s: version %s is missing", p.name, p.version)
	}
	n, err := model.ParseVersion(v)
	if err != nil {
		return 0, fmt.Errorf("%s: version %s: %w", p.name, p.version, err)
	}
	return n, nil
}

// Map maps one decoded record. On failure the *Error lists every field that
// failed, not just the first.
func (p *Plan) Map(rec any) (Result, error) {
	values := make([]Value, len(p.fields))
	var mErr *Error
	for i := range p.fields {
		f := &p.fields[i]
		if f.plain {
			if x, ok := f.source.Lookup(rec); ok {
				if v, scalar := fromAny(x); scalar && (v.kind != kindString || v.s != "") {
					values[i] = v
					continue
				}
			}
		}
		v, fe := f.apply(rec)
		if fe != nil {
			if mErr == nil {
				mErr = &Error{Entity: p.name}
			}
			mErr.Fields = append(mErr.Fields, *fe)
			continue
		}
		values[i] = v
	}
	if mErr != nil {
		if k, err := p.Key(rec); err == nil {
			mErr.Key = k
		}
		return Result{}, mErr
	}
	return Result{names: p.names, values: values}, nil
}

func (f *fieldPlan) fail(expected string, found string) *FieldError {
	return &FieldError{Field: f.target, Source: f.label, Expected: expected, Found: found}
}

func (f *fieldPlan) apply(rec any) (Value, *FieldError) {
	if f.isConstant {
		return f.constant, nil
	}
	var v Value
	var raw any
	switch {
	case f.source != nil:
		x, ok := f.source.Lookup(rec)
		if !ok {
			return f.missing("absent")
		}
		raw = x
		var scalar bool
		if v, scalar = fromAny(x); !scalar {
			return Value{}, f.fail("a single value", describe(x))
		}
	default:
		s, missing := f.template.Execute(rec)
		if len(missing) > 0 {
			return f.missing("no " + strings.Join(missing, ", "))
		}
		v, raw = String(s), s
	}
	if v.IsNull() {
		return f.missing("null")
	}
	for i := range f.steps {
		var fe *FieldError
		if v, fe = f.steps[i].apply(f, v, rec); fe != nil {
			return Value{}, fe
		}
		if v.IsNull() {
			return f.missing(describe(raw))
		}
	}
	if v.kind == kindString && v.s == "" {
		return f.missing("empty text")
	}
	if f.translate != nil {
		return f.translate.apply(f, v)
	}
	return v, nil
}

// missing handles an empty source: the default, an error when mandatory,
// else null (which clears the field in AlisQI, keeping it equal to the ERP).
func (f *fieldPlan) missing(found string) (Value, *FieldError) {
	if f.hasDefault {
		return f.def, nil
	}
	if f.mandatory {
		return Value{}, f.fail("a value (mandatory)", found)
	}
	return Null(), nil
}

func (t *translation) apply(f *fieldPlan, v Value) (Value, *FieldError) {
	key := v.Text()
	if t.ignoreCase {
		key = strings.ToLower(key)
	}
	if out, ok := t.values[key]; ok {
		return String(out), nil
	}
	switch t.fallback {
	case spec.FallbackDefault:
		return String(t.def), nil
	case spec.FallbackPassthrough:
		return v, nil
	}
	return Value{}, f.fail(t.expected, strconv.Quote(truncateRunes(v.Text(), 40)))
}

func (s *step) apply(f *fieldPlan, v Value, rec any) (Value, *FieldError) {
	switch s.op {
	case opTrim:
		if v.kind == kindString {
			v.s = strings.TrimSpace(v.s)
		}
	case opUpper:
		if v.kind == kindString {
			v.s = strings.ToUpper(v.s)
		}
	case opLower:
		if v.kind == kindString {
			v.s = strings.ToLower(v.s)
		}
	case opTruncate:
		if v.kind == kindString && utf8.RuneCountInString(v.s) > s.n {
			v.s = truncateRunes(v.s, s.n)
		}
	case opNumber:
		return s.number(f, v)
	case opRound:
		if v.kind != kindNumber {
			return Value{}, f.fail("a number (add the number transform before round)", describe(v.Any()))
		}
		p := math.Pow10(s.n)
		v.n = math.Round(v.n*p) / p
	case opDate:
		return s.date(f, v)
	case opConvert:
		return s.convert(f, v, rec)
	}
	return v, nil
}

func (s *step) number(f *fieldPlan, v Value) (Value, *FieldError) {
	switch v.kind {
	case kindNumber:
		return v, nil
	case kindString:
		text := strings.TrimSpace(v.s)
		if text == "" {
			return Null(), nil
		}
		if n, err := strconv.ParseFloat(text, 64); err == nil && s.decimal == '.' && !math.IsInf(n, 0) && !math.IsNaN(n) {
			return Number(n), nil
		}
		if n, ok := parseLocalized(text, s.decimal); ok {
			return Number(n), nil
		}
	}
	return Value{}, f.fail("a number", describe(v.Any()))
}

// parseLocalized parses "1,234.5" (decimal '.') or "1.234,5" (decimal ',').
func parseLocalized(s string, decimal byte) (float64, bool) {
	group := byte(',')
	if decimal == ',' {
		group = '.'
	}
	var buf [64]byte
	b := buf[:0]
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == group:
		case c == decimal:
			b = append(b, '.')
		default:
			b = append(b, c)
		}
	}
	n, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, false
	}
	return n, true
}

// inputLayouts are the date shapes ERPs send when no layout is configured.
var inputLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"}

func (s *step) date(f *fieldPlan, v Value) (Value, *FieldError) {
	if v.kind != kindString {
		return Value{}, f.fail("a date", describe(v.Any()))
	}
	text := strings.TrimSpace(v.s)
	// Business Central writes an empty date as 0001-01-01.
	if text == "" || strings.HasPrefix(text, "0001-01-01") {
		return Null(), nil
	}
	t, ok := s.parseTime(text)
	if !ok {
		want := "a date such as 2024-03-01T10:00:00Z"
		if s.layout != "" {
			want = "a date in layout " + s.layout
		}
		return Value{}, f.fail(want, describe(v.s))
	}
	var buf [32]byte
	return String(string(appendAlisQI(buf[:0], t.In(s.loc), s.dateOnly))), nil
}

func (s *step) parseTime(text string) (time.Time, bool) {
	if s.layout != "" {
		t, err := time.ParseInLocation(s.layout, text, s.loc)
		return t, err == nil
	}
	if strings.HasPrefix(text, "/Date(") {
		us, err := model.ParseVersion(text)
		return time.UnixMicro(us), err == nil
	}
	if t, ok := parseISO(text, s.loc); ok {
		return t, true
	}
	for _, l := range inputLayouts {
		// A time without a zone is the connection's local time.
		if t, err := time.ParseInLocation(l, text, s.loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (s *step) convert(f *fieldPlan, v Value, rec any) (Value, *FieldError) {
	if v.kind != kindNumber {
		return Value{}, f.fail("a number (add the number transform before convert)", describe(v.Any()))
	}
	from := s.from
	if s.fromPath != nil {
		u, ok := s.fromPath.Lookup(rec)
		unit, isText := u.(string)
		if !ok || !isText {
			return Value{}, f.fail("a unit in "+s.fromPath.String(), describe(u))
		}
		if from, ok = s.table[strings.ToUpper(strings.TrimSpace(unit))]; !ok {
			return Value{}, f.fail("a unit of table "+s.tableRef, strconv.Quote(unit))
		}
	}
	v.n = v.n * from / s.to
	return v, nil
}
