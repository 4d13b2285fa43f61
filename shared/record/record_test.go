package record

import (
	"encoding/json"
	"reflect"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPathLookup(t *testing.T) {
	rec := decode(t, `{"number":"1000","a":{"b":{"c":5}},"lines":[{"lotNo":"L1"},{"lotNo":"L2","tags":["x","y"]}],"n":null}`)
	tests := []struct {
		path  string
		want  any
		found bool
	}{
		{"number", "1000", true},
		{"a.b.c", 5.0, true},
		{"lines[1].lotNo", "L2", true},
		{"lines[1].tags[1]", "y", true},
		{"lines[2].lotNo", nil, false},
		{"a.x", nil, false},
		{"number.x", nil, false},
		{"n", nil, true},
	}
	for _, tt := range tests {
		got, found := MustPath(tt.path).Lookup(rec)
		if found != tt.found || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v,%v want %v,%v", tt.path, got, found, tt.want, tt.found)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, s := range []string{"", "a..b", "a[", "a[x]", "a[-1]", "a[0]b", ".a"} {
		if _, err := ParsePath(s); err == nil {
			t.Errorf("ParsePath(%q) accepted", s)
		}
	}
	if _, err := ParsePath("[0].a"); err != nil {
		t.Errorf("a leading index is valid for an array record: %v", err)
	}
}

func TestTemplate(t *testing.T) {
	rec := decode(t, `{"no":"PO-1","line":10,"lot":null}`)
	tpl, err := ParseTemplate("{{no}}/{{ line }}{{lot}}")
	if err != nil {
		t.Fatal(err)
	}
	out, missing := tpl.Execute(rec)
	if out != "PO-1/10" || !reflect.DeepEqual(missing, []string{"lot"}) {
		t.Errorf("Execute = %q, %v", out, missing)
	}
	for _, bad := range []string{"{{no", "no}}", "plain", "{{a..b}}", "x}}{{no}}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", bad)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[any]string{"a": "a", 1.5: "1.5", 1e21: "1000000000000000000000", true: "true", 3: "3", int64(4): "4"} {
		if got := Text(in); got != want {
			t.Errorf("Text(%v) = %q, want %q", in, got, want)
		}
	}
	if Text(nil) != "" {
		t.Error("Text(nil) not empty")
	}
}
