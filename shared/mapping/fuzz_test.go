package mapping

import (
	"encoding/json"
	"testing"

	"github.com/qbridge/qbridge/shared/spec"
)

// FuzzMap maps arbitrary JSON records with every entity of the Business
// Central spec: no input panics, and every result is valid JSON whose hash is
// stable.
func FuzzMap(f *testing.F) {
	s, err := spec.Load("../../testdata/specs/businesscentral.yaml")
	if err != nil {
		f.Fatal(err)
	}
	plans, err := CompileSpec(s)
	if err != nil {
		f.Fatal(err)
	}
	for _, ex := range s.Examples {
		b, _ := json.Marshal(ex.Input)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec any
		if json.Unmarshal(data, &rec) != nil {
			return
		}
		for _, name := range s.EntityOrder {
			plan := plans.Entities[name]
			_, _ = plan.Key(rec)
			_, _ = plan.Version(rec)
			res, err := plan.Map(rec)
			if err != nil {
				if me, ok := err.(*Error); !ok || len(me.Fields) == 0 {
					t.Fatalf("%s: error %T %v", name, err, err)
				}
				continue
			}
			out := res.AppendJSON(nil)
			var back map[string]any
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("%s: invalid JSON %s: %v", name, out, err)
			}
			again, err := plan.Map(rec)
			if err != nil || again.Hash() != res.Hash() {
				t.Fatalf("%s: mapping or hash not deterministic: %v", name, err)
			}
		}
	})
}
