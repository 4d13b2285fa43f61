package connections

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
)

type fixedSecrets map[string]*secrets.Credentials

func (f fixedSecrets) Credentials(_ context.Context, c string) (*secrets.Credentials, error) {
	if cr, ok := f[c]; ok {
		return cr, nil
	}
	return nil, model.Errorf(model.ENotFound, "no secret for %s", c)
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("../../testdata/specs/businesscentral.yaml")
	if err := os.WriteFile(filepath.Join(dir, "bc.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	creds := &secrets.Credentials{AlisQIToken: "t", ERPClientID: "id", ERPClientSecret: "s", ClientState: "cs"}
	r, err := LoadDir(dir, Options{Secrets: fixedSecrets{"acme-bc": creds}, Override: func(s *spec.Spec) { s.AlisQI.BaseURL = "http://127.0.0.1:1/api/" }})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := r.Get("acme-bc")
	if !ok || c.Plans.Entities["items"] == nil || !c.Triggers.Has("receiptLots") || c.Spec.AlisQI.BaseURL != "http://127.0.0.1:1/api/" {
		t.Fatalf("connection = %+v", c)
	}
	a1, err := r.Adapter(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := r.Adapter(context.Background(), c)
	if a1 != a2 {
		t.Error("adapter rebuilt although the credentials did not change")
	}
	if _, err := r.AlisQI(context.Background(), c); err != nil {
		t.Fatal(err)
	}

	// A broken spec fails the whole load, with its positions.
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("version: 1\nconnection: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir, Options{}); err == nil || !strings.Contains(err.Error(), "broken.yaml:1:1") {
		t.Errorf("broken spec: %v", err)
	}
	if _, err := LoadDir(t.TempDir(), Options{}); err == nil {
		t.Error("an empty folder loaded")
	}
}

func TestMissingCredentialsAreUnavailable(t *testing.T) {
	s, err := spec.Load("../../testdata/specs/businesscentral.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := New([]*spec.Spec{s}, Options{Secrets: fixedSecrets{}})
	c, _ := r.Get("acme-bc")
	if _, err := r.Adapter(context.Background(), c); model.ErrorCode(err) != model.EUnavailable || !strings.Contains(err.Error(), "no secret for acme-bc") {
		t.Errorf("err = %v", err)
	}
}
