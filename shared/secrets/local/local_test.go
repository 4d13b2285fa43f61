package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets.json")
	if err := os.WriteFile(file, []byte(`{"acme-bc":{"alisqiToken":"from-file"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Source{File: file}
	c, err := s.Credentials(context.Background(), "acme-bc")
	if err != nil || c.AlisQIToken.Reveal() != "from-file" {
		t.Fatalf("%+v %v", c, err)
	}
	t.Setenv("QBRIDGE_SECRET_ACME_BC", `{"alisqiToken":"from-env"}`)
	if c, _ := s.Credentials(context.Background(), "acme-bc"); c.AlisQIToken.Reveal() != "from-env" {
		t.Error("the environment does not win over the file")
	}
	if _, err := s.Credentials(context.Background(), "other"); err == nil || !strings.Contains(err.Error(), "QBRIDGE_SECRET_OTHER") {
		t.Errorf("missing: %v", err)
	}
	if _, err := (&Source{File: filepath.Join(t.TempDir(), "none.json")}).Credentials(context.Background(), "x"); err == nil {
		t.Error("a missing file is not an error")
	}
}
