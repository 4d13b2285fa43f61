package spec

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParse: no input panics the loader; whatever it accepts renders.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"../../testdata/specs/businesscentral.yaml", "../../testdata/specs/s4hana.yaml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			if _, ok := err.(Problems); !ok {
				t.Fatalf("error is not Problems: %T %v", err, err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Render(&buf, s); err != nil {
			t.Fatal(err)
		}
	})
}
