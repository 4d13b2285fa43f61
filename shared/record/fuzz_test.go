package record

import (
	"encoding/json"
	"testing"
)

// FuzzPath: no path or template panics parsing or lookup.
func FuzzPath(f *testing.F) {
	f.Add("lines[0].lotNo", `{"lines":[{"lotNo":"L1"}]}`)
	f.Add("{{a}}-{{b[1]}}", `{"a":1,"b":[1,2]}`)
	f.Fuzz(func(t *testing.T, path, doc string) {
		var v any
		_ = json.Unmarshal([]byte(doc), &v)
		if p, err := ParsePath(path); err == nil {
			p.Lookup(v)
		}
		if tpl, err := ParseTemplate(path); err == nil {
			tpl.Execute(v)
		}
	})
}
