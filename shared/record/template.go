package record

import (
	"fmt"
	"strconv"
	"strings"
)

// Template joins literal text and path values: "{{number}}-{{lotNo}}".
type Template struct {
	parts []part
	text  string
}

type part struct {
	literal string
	path    *Path
}

// ParseTemplate parses s; every {{...}} must hold a valid path.
func ParseTemplate(s string) (Template, error) {
	t := Template{text: s}
	rest := s
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if strings.Contains(rest, "}}") {
				return Template{}, fmt.Errorf("template %q: }} without {{", s)
			}
			t.parts = append(t.parts, part{literal: rest})
			break
		}
		if i > 0 {
			if strings.Contains(rest[:i], "}}") {
				return Template{}, fmt.Errorf("template %q: }} without {{", s)
			}
			t.parts = append(t.parts, part{literal: rest[:i]})
		}
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return Template{}, fmt.Errorf("template %q: {{ without }}", s)
		}
		p, err := ParsePath(strings.TrimSpace(rest[:j]))
		if err != nil {
			return Template{}, fmt.Errorf("template %q: %v", s, err)
		}
		t.parts = append(t.parts, part{path: &p})
		rest = rest[j+2:]
	}
	if len(t.Paths()) == 0 {
		return Template{}, fmt.Errorf("template %q refers to no field; use constant instead", s)
	}
	return t, nil
}

// Paths returns the paths the template reads.
func (t Template) Paths() []Path {
	var ps []Path
	for _, p := range t.parts {
		if p.path != nil {
			ps = append(ps, *p.path)
		}
	}
	return ps
}

// String returns the template as written.
func (t Template) String() string { return t.text }

// Execute renders the template over v. missing lists the paths that were
// absent or null; they render as empty text.
func (t Template) Execute(v any) (out string, missing []string) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.path == nil {
			b.WriteString(p.literal)
			continue
		}
		x, ok := p.path.Lookup(v)
		if !ok || x == nil {
			missing = append(missing, p.path.String())
			continue
		}
		b.WriteString(Text(x))
	}
	return b.String(), missing
}

// Text renders a decoded JSON scalar as text, numbers without exponent noise.
func Text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(v)
}
