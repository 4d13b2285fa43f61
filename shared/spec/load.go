package spec

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema is the JSON Schema of a spec file, for editors and for Load.
//
//go:embed schema.json
var Schema []byte

// Problem is one thing wrong with a spec, at a position in its file.
type Problem struct {
	File    string
	Line    int
	Column  int
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
}

// Problems is every problem found in one spec; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads and checks the spec at path.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse checks a spec held in memory; file names it in messages. On
// problems it returns the spec as far as it could be read and a Problems
// error listing all of them, sorted by position.
func Parse(file string, data []byte) (*Spec, error) {
	s := &Spec{File: file, positions: positions{value: map[string]pos{}, key: map[string]pos{}}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Problems{yamlProblem(file, err)}
	}
	if len(doc.Content) == 0 {
		return nil, Problems{{File: file, Line: 1, Column: 1, Message: "the file is empty; a spec needs version, connection, erp, alisqi and entities"}}
	}
	root := doc.Content[0]
	budget := maxNodes
	instance, err := s.positions.walk(root, "", &budget)
	if err != nil {
		return nil, Problems{{File: file, Line: root.Line, Column: root.Column, Message: err.Error()}}
	}

	c := &checker{s: s}
	c.schema(instance)
	if err := root.Decode(s); err != nil && len(c.problems) == 0 {
		// The schema admits every shape the structs accept, so this is a bug
		// in one of the two; report it rather than hide it.
		c.at("", "cannot read spec: %v", err)
	}
	// An entity the schema refused may not have decoded: give every name in
	// the file an entity so the semantic checks can still run.
	s.EntityOrder = entityOrder(root)
	if s.Entities == nil {
		s.Entities = map[string]*Entity{}
	}
	for _, name := range s.EntityOrder {
		if s.Entities[name] == nil {
			s.Entities[name] = &Entity{}
		}
		s.Entities[name].Name = name
	}
	s.applyDefaults()
	c.semantics()
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(i, j int) bool {
			a, b := c.problems[i], c.problems[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return s, c.problems
	}
	return s, nil
}

func (s *Spec) applyDefaults() {
	if s.Timezone == "" {
		s.Timezone = "UTC"
	}
	if s.AlisQI.CallsPerMinute == 0 {
		s.AlisQI.CallsPerMinute = 30
	}
	if s.AlisQI.BatchSize == 0 {
		s.AlisQI.BatchSize = 500
	}
	for _, e := range s.Entities {
		if e.Owner == "" {
			e.Owner = "erp"
		}
		if e.Direction == "" {
			e.Direction = "erp-to-alisqi"
		}
		if e.Trigger == "" {
			e.Trigger = TriggerEvent
		}
		if e.AlisQI.Type == "" {
			e.AlisQI.Type = "measurementSet"
			if e.Kind.IsMasterData() {
				e.AlisQI.Type = "selectionList"
			}
		}
		if e.OnDelete.Action == "" {
			e.OnDelete.Action = "ignore"
		}
	}
	for name, t := range s.Translations {
		if t.Fallback == "" {
			t.Fallback = FallbackStrict
			s.Translations[name] = t
		}
	}
}

func entityOrder(root *yaml.Node) []string {
	ents := mappingValue(root, "entities")
	if ents == nil || ents.Kind != yaml.MappingNode {
		return nil
	}
	var names []string
	for i := 0; i+1 < len(ents.Content); i += 2 {
		names = append(names, ents.Content[i].Value)
	}
	return names
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func yamlProblem(file string, err error) Problem {
	// yaml.v3 says "yaml: line N: message" or "yaml: line N: column?".
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ":"); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, strings.TrimSpace(after)
			}
		}
	}
	return Problem{File: file, Line: line, Column: 1, Message: "YAML: " + msg}
}

// pos is a 1-based line and column.
type pos struct{ line, column int }

// positions maps JSON pointers of the document to where they are written:
// value is where the value starts, key where its mapping key starts.
type positions struct {
	value map[string]pos
	key   map[string]pos
}

// maxNodes bounds the nodes a spec may expand to, aliases included, so a
// YAML alias bomb is refused instead of expanded.
const maxNodes = 200_000

// walk turns the YAML tree into a JSON-compatible value for the schema and
// records every node's position under its JSON pointer.
func (p positions) walk(n *yaml.Node, ptr string, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("the spec expands to more than %d YAML nodes (too many aliases?)", maxNodes)
	}
	if n.Kind == yaml.AliasNode {
		return p.walk(n.Alias, ptr, budget)
	}
	p.value[ptr] = pos{n.Line, n.Column}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: YAML merge keys (<<) are not supported; write the fields out", k.Line)
			}
			child := ptr + "/" + escapePointer(k.Value)
			p.key[child] = pos{k.Line, k.Column}
			val, err := p.walk(v, child, budget)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		a := make([]any, len(n.Content))
		for i, c := range n.Content {
			val, err := p.walk(c, ptr+"/"+strconv.Itoa(i), budget)
			if err != nil {
				return nil, err
			}
			a[i] = val
		}
		return a, nil
	case yaml.ScalarNode:
		return scalar(n), nil
	}
	return nil, nil
}

func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err == nil {
			switch x := v.(type) {
			case int:
				return json.Number(strconv.Itoa(x))
			case float64:
				return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
			}
			return v
		}
	}
	return n.Value
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// lookup finds the position of ptr, or of its nearest ancestor.
func (p positions) lookup(ptr string, preferKey bool) pos {
	for {
		if preferKey {
			if v, ok := p.key[ptr]; ok {
				return v
			}
		}
		if v, ok := p.value[ptr]; ok {
			return v
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return pos{1, 1}
		}
		ptr = ptr[:i]
	}
}

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("schema.json")
})

var printer = message.NewPrinter(language.English)

// schema validates the instance and records each leaf failure.
func (c *checker) schema(instance any) {
	sch, err := compiled()
	if err != nil {
		c.at("", "internal: spec schema does not compile: %v", err)
		return
	}
	err = sch.Validate(instance)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return
	}
	seen := map[string]bool{}
	for _, leaf := range leaves(ve) {
		ptr := pointer(leaf.loc)
		msg, keyPtr := describe(leaf.ValidationError, ptr, instanceAt(instance, leaf.loc))
		where := ptr
		if keyPtr != "" {
			where = keyPtr
		}
		if seen[where+msg] {
			continue
		}
		seen[where+msg] = true
		c.atPos(c.s.positions.lookup(where, keyPtr != ""), "%s", msg)
	}
}

// leaf is one schema failure and the instance location it is about.
type leaf struct {
	*jsonschema.ValidationError
	loc []string
}

// leaves flattens the cause tree. For anyOf/oneOf it keeps the branch that
// got furthest, so a mistyped transform yields one message, not three.
func leaves(ve *jsonschema.ValidationError) []leaf {
	if len(ve.Causes) == 0 {
		return []leaf{{ve, ve.InstanceLocation}}
	}
	switch ve.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		best := ve.Causes[0]
		for _, c := range ve.Causes[1:] {
			if depth(c) > depth(best) {
				best = c
			}
		}
		if depth(best) == len(ve.InstanceLocation) && isTypeOrEnum(best) {
			// No branch matched even the shape: say what the shapes are.
			return []leaf{{ve, ve.InstanceLocation}}
		}
		return leaves(best)
	}
	var out []leaf
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func depth(ve *jsonschema.ValidationError) int {
	d := len(ve.InstanceLocation)
	for _, c := range ve.Causes {
		if cd := depth(c); cd > d {
			d = cd
		}
	}
	return d
}

func isTypeOrEnum(ve *jsonschema.ValidationError) bool {
	for len(ve.Causes) == 1 {
		ve = ve.Causes[0]
	}
	switch ve.ErrorKind.(type) {
	case *kind.Type, *kind.Enum, *kind.Group:
		return true
	}
	return false
}

func pointer(loc []string) string {
	var b strings.Builder
	for _, s := range loc {
		b.WriteByte('/')
		b.WriteString(escapePointer(s))
	}
	return b.String()
}

// describe words a schema failure for a workshop reader; keyPtr is set when
// the failure is best shown at a mapping key rather than at a value.
func describe(ve *jsonschema.ValidationError, ptr string, value any) (msg, keyPtr string) {
	field := strings.TrimPrefix(ptr, "/")
	if field == "" {
		field = "spec"
	}
	switch k := ve.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		return fmt.Sprintf("unknown field %q in %s", k.Properties[0], field), ptr + "/" + escapePointer(k.Properties[0])
	case *kind.Required:
		return fmt.Sprintf("%s is missing required field %s", field, quoteList(k.Missing)), ""
	case *kind.AnyOf:
		if strings.Contains(ptr, "/transforms/") {
			return fmt.Sprintf("%s: unknown transform %s; use trim, upper, lower, number, date, or one of {truncate: n}, {round: n}, {number: {decimal: \",\"}}, {date: {layout: ...}}, {convert: {table, from|fromPath, to}}", field, transformName(value)), ""
		}
	case *kind.Pattern:
		if strings.HasSuffix(k.Want, "{0,62}$") {
			return fmt.Sprintf("%s: %q is not a connection id; use lower-case letters, digits and dashes (it appears in URLs)", field, value), ""
		}
		if strings.HasSuffix(k.Want, "-]*$") {
			return fmt.Sprintf("%s: %q is not a name; use lower-case letters, digits and dashes", field, value), ""
		}
	}
	return fmt.Sprintf("%s: %s", field, ve.ErrorKind.LocalizedString(printer)), ""
}

// instanceAt returns the value at loc in the validated instance.
func instanceAt(v any, loc []string) any {
	for _, k := range loc {
		switch t := v.(type) {
		case map[string]any:
			v = t[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// transformName names what was written where a transform was expected.
func transformName(v any) string {
	switch t := v.(type) {
	case string:
		return strconv.Quote(t)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return quoteList(keys)
	}
	return fmt.Sprint(v)
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
