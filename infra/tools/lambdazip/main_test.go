package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestPackIsDeterministicAndExecutable(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho hi\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	spec := filepath.Join(dir, "acme.yaml")
	if err := os.WriteFile(spec, []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pack(a, bin, spec); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bin, epoch.AddDate(30, 0, 0), epoch.AddDate(30, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := pack(b, bin, spec); err != nil {
		t.Fatal(err)
	}
	za, _ := os.ReadFile(a)
	zb, _ := os.ReadFile(b)
	if !bytes.Equal(za, zb) {
		t.Error("same binary, different zips")
	}
	r, err := zip.OpenReader(a)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.File) != 2 || r.File[0].Name != "bootstrap" || r.File[0].Mode().Perm() != 0o755 || r.File[1].Name != "specs/acme.yaml" {
		t.Errorf("entries: %v mode %v, %d files", r.File[0].Name, r.File[0].Mode(), len(r.File))
	}
}
