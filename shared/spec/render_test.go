package spec

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRenderGolden(t *testing.T) {
	for _, name := range []string{"businesscentral", "s4hana"} {
		t.Run(name, func(t *testing.T) {
			s, err := Load(filepath.Join("../../testdata/specs", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Render(&buf, s); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("../../testdata/golden", name+".md")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./shared/spec -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("render differs from %s; run go test ./shared/spec -update and review the diff", golden)
			}
		})
	}
}

func TestRenderEscapesTableCells(t *testing.T) {
	doc := strings.Replace(base, "kind: item", "kind: item\n    trigger: event", 1) + `triggers:
  - name: t
    entity: items
    when: 'record.a == "x" || record.b == "y"'
    inspection: {set: 1, keyField: k_, fields: [{target: k_, template: "{{a}}|{{b}}", mandatory: true}]}
`
	s, err := Parse("s.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "| `k_` | template `{{a}}\\|{{b}}` | yes |") {
		t.Errorf("pipe in a cell not escaped:\n%s", out)
	}
	if !strings.Contains(out, "**Condition:** `record.a == \"x\" || record.b == \"y\"`") {
		t.Errorf("condition missing:\n%s", out)
	}
}
