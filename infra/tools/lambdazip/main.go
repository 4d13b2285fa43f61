// Command lambdazip packs a Lambda bootstrap binary, and the installation's
// spec files under specs/, into a zip with fixed timestamps and
// permissions, so the same inputs always make the same zip and a CDK deploy
// only uploads code that changed.
//
//	lambdazip -o dist/ingest.zip -specs testdata/specs dist/ingest/bootstrap
package main

import (
	"archive/zip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

func main() {
	out := flag.String("o", "", "output zip `file`")
	specs := flag.String("specs", "", "`folder` whose *.yaml files go into specs/")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: lambdazip -o OUT.zip [-specs DIR] BOOTSTRAP")
		os.Exit(2)
	}
	var files []string
	if *specs != "" {
		var err error
		if files, err = filepath.Glob(filepath.Join(*specs, "*.yaml")); err != nil || len(files) == 0 {
			fmt.Fprintf(os.Stderr, "lambdazip: no *.yaml specs in %s\n", *specs)
			os.Exit(1)
		}
		sort.Strings(files)
	}
	if err := pack(*out, flag.Arg(0), files...); err != nil {
		fmt.Fprintf(os.Stderr, "lambdazip: %v\n", err)
		os.Exit(1)
	}
}

// epoch is the timestamp every entry gets (zip cannot store 1970).
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func pack(out, bootstrap string, specs ...string) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".lambdazip-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw := zip.NewWriter(tmp)
	if err := add(zw, "bootstrap", bootstrap, 0o755); err != nil {
		return err
	}
	for _, s := range specs {
		if err := add(zw, "specs/"+filepath.Base(s), s, 0o644); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

func add(zw *zip.Writer, name, path string, mode os.FileMode) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch}
	hdr.SetMode(mode)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, in)
	return err
}
