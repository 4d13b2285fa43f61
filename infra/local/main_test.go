package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const bc = "../../testdata/specs/businesscentral.yaml"
const s4 = "../../testdata/specs/s4hana.yaml"

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestSpecCheck(t *testing.T) {
	code, out, errs := runCLI(t, "", "spec", "check", bc, s4)
	if code != 0 || !strings.Contains(out, "businesscentral.yaml: ok (connection acme-bc, 13 entities") || errs != "" {
		t.Fatalf("code %d\n%s\n%s", code, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	src, _ := os.ReadFile(bc)
	src = bytes.Replace(src, []byte("translate: itemTypes}"), []byte("translate: itemType}"), 1)
	src = bytes.Replace(src, []byte("schedule: rate(1 hour)"), []byte("schedule: rate(1 hours)"), 1)
	if err := os.WriteFile(bad, src, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, "", "spec", "check", bad)
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], bad+":") || !strings.Contains(errs, `unknown translation table "itemType"`) || !strings.Contains(errs, "the unit is singular") {
		t.Errorf("code %d, problems:\n%s", code, errs)
	}
	if code, _, _ := runCLI(t, "", "spec", "check", "/nonexistent.yaml"); code != 2 {
		t.Errorf("missing file: code %d", code)
	}
}

func TestSpecRender(t *testing.T) {
	code, out, errs := runCLI(t, "", "spec", "render", bc)
	want, _ := os.ReadFile("../../testdata/golden/businesscentral.md")
	if code != 0 || out != string(want) || errs != "" {
		t.Errorf("code %d, render differs from the golden file (%d vs %d bytes): %s", code, len(out), len(want), errs)
	}
}

func TestSpecTest(t *testing.T) {
	code, out, _ := runCLI(t, "", "spec", "test", bc, s4)
	if code != 0 || !strings.Contains(out, "10 examples, 0 failed") || !strings.Contains(out, "PASS vendors: vendor with blank blocked falls back to No") {
		t.Fatalf("code %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	src, _ := os.ReadFile(bc)
	src = bytes.Replace(src, []byte("item_code_: 1896-S\n"), []byte("item_code_: 1896-X\n"), 1)
	_ = os.WriteFile(bad, src, 0o644)
	code, out, _ = runCLI(t, "", "spec", "test", bad)
	if code != 1 || !strings.Contains(out, "FAIL items: item with trimmed code") || !strings.Contains(out, `item_code_: want "1896-X", got "1896-S"`) || !strings.Contains(out, "6 examples, 1 failed") {
		t.Errorf("code %d\n%s", code, out)
	}
}

func TestMap(t *testing.T) {
	rec := `{"id":"v1","number":" V0010 ","displayName":"Fabrikam","country":"us","blocked":"All","lastModifiedDateTime":"2024-03-01T10:00:00Z"}`
	code, out, errs := runCLI(t, rec, "map", "--spec", bc, "--entity", "vendors")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got["supplier_no_"] != "V0010" || got["blocked_"] != "Blocked" || got["country_"] != "US" || got["city_"] != nil {
		t.Errorf("result = %v", got)
	}

	code, out, errs = runCLI(t, `{"id":"v2","country":"nl"}`, "map", "--spec", bc, "--entity", "vendors")
	if code != 1 || out != "" {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	var me struct {
		Entity, Key string
		Fields      []struct{ Field, Source, Expected, Found string }
	}
	if err := json.Unmarshal([]byte(errs), &me); err != nil {
		t.Fatalf("stderr is not JSON: %v\n%s", err, errs)
	}
	if me.Entity != "vendors" || me.Key != "v2" || len(me.Fields) != 2 || me.Fields[0].Field != "supplier_no_" || me.Fields[0].Source != "number" || me.Fields[0].Found != "absent" {
		t.Errorf("errors = %+v", me)
	}

	for _, args := range [][]string{{"map"}, {"map", "--spec", bc, "--entity", "nope"}} {
		if code, _, _ := runCLI(t, "{}", args...); code != 2 {
			t.Errorf("%v: code %d, want 2", args, code)
		}
	}
	if code, _, errs := runCLI(t, "[1]", "map", "--spec", bc, "--entity", "vendors"); code != 2 || !strings.Contains(errs, "one JSON object") {
		t.Errorf("array input: %d %s", code, errs)
	}
}

func TestUsage(t *testing.T) {
	if code, _, errs := runCLI(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, "usage:") {
		t.Errorf("code %d %s", code, errs)
	}
	if code, out, _ := runCLI(t, "", "help"); code != 0 || !strings.Contains(out, "qbridge spec check") {
		t.Errorf("help: %d", code)
	}
}
