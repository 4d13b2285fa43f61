// Package record reads values out of a decoded ERP record (JSON decoded into
// map[string]any / []any): dotted source paths with array indexes, and
// templates that join several paths. Paths are parsed once, at spec load.
package record

import (
	"fmt"
	"strconv"
	"strings"
)

// Path is a parsed source path such as "lines[0].lotNo" or "a.b.c".
type Path struct {
	steps []step
	text  string
}

type step struct {
	key   string
	index int // -1 for a key step
}

// ParsePath parses dotted keys with optional [n] indexes. Keys are taken
// literally; a key containing '.' or '[' cannot be addressed (ERP field names
// never contain them).
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, fmt.Errorf("empty path")
	}
	p := Path{text: s}
	for _, seg := range strings.Split(s, ".") {
		key, rest, hasIndex := strings.Cut(seg, "[")
		if key == "" && (!hasIndex || len(p.steps) > 0) {
			return Path{}, fmt.Errorf("path %q has an empty segment", s)
		}
		if key != "" {
			p.steps = append(p.steps, step{key: key, index: -1})
		}
		for hasIndex { // rest is "n]" or "n][m]"...
			num, after, ok := strings.Cut(rest, "]")
			if !ok {
				return Path{}, fmt.Errorf("path %q: missing ]", s)
			}
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 {
				return Path{}, fmt.Errorf("path %q: index %q is not a non-negative number", s, num)
			}
			p.steps = append(p.steps, step{index: n})
			if after != "" && !strings.HasPrefix(after, "[") {
				return Path{}, fmt.Errorf("path %q: unexpected %q after ]", s, after)
			}
			rest, hasIndex = strings.CutPrefix(after, "[")
		}
	}
	return p, nil
}

// MustPath parses s and panics on error; for tests and constants only.
func MustPath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the path as written.
func (p Path) String() string { return p.text }

// Lookup returns the value at p in v, and whether every step was found.
// A JSON null is found, with value nil.
func (p Path) Lookup(v any) (any, bool) {
	for _, s := range p.steps {
		if s.index < 0 {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[s.key]; !ok {
				return nil, false
			}
			continue
		}
		a, ok := v.([]any)
		if !ok || s.index >= len(a) {
			return nil, false
		}
		v = a[s.index]
	}
	return v, true
}
