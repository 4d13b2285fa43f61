package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/spec"
	"github.com/qbridge/qbridge/shared/testplan"
)

func specCheck(files []string, stdout, stderr io.Writer) int {
	code := 0
	for _, f := range files {
		s, err := spec.Load(f)
		if err != nil {
			code = max(code, report(stderr, err))
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (connection %s, %d entities, %d triggers, %d outcomes, %d examples)\n",
			f, s.Connection, len(s.Entities), len(s.Triggers), len(s.Outcomes), len(s.Examples))
	}
	return code
}

// report prints a load error and returns its exit code: 1 for spec
// problems, 2 when the file could not be read at all.
func report(stderr io.Writer, err error) int {
	var ps spec.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stderr, p)
		}
		return 1
	}
	fmt.Fprintf(stderr, "qbridge: %v\n", err)
	return 2
}

func specRender(files []string, stdout, stderr io.Writer) int {
	if len(files) != 1 {
		fmt.Fprintln(stderr, "usage: qbridge spec render FILE")
		return 2
	}
	s, err := spec.Load(files[0])
	if err != nil {
		return report(stderr, err)
	}
	w := bufio.NewWriter(stdout)
	if err := spec.Render(w, s); err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 2
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 2
	}
	return 0
}

func specTest(files []string, stdout, stderr io.Writer) int {
	code, total, failed := 0, 0, 0
	for _, f := range files {
		s, err := spec.Load(f)
		if err != nil {
			code = max(code, report(stderr, err))
			continue
		}
		reports, err := testplan.Run(s)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			code = 2
			continue
		}
		for _, r := range reports {
			total++
			if r.Pass() {
				fmt.Fprintf(stdout, "PASS %s: %s\n", r.Entity, r.Name)
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %s\n", r.Entity, r.Name)
			for _, d := range r.Mismatch {
				fmt.Fprintf(stdout, "     %s\n", d)
			}
		}
	}
	fmt.Fprintf(stdout, "%d examples, %d failed\n", total, failed)
	if failed > 0 {
		code = max(code, 1)
	}
	return code
}

func mapRecord(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("map", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specFile := fs.String("spec", "", "integration spec `file`")
	entity := fs.String("entity", "", "entity `name` in the spec")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *specFile == "" || *entity == "" {
		fmt.Fprintln(stderr, "usage: qbridge map --spec FILE --entity NAME < record.json")
		return 2
	}
	s, err := spec.Load(*specFile)
	if err != nil {
		return report(stderr, err)
	}
	e := s.Entity(*entity)
	if e == nil {
		fmt.Fprintf(stderr, "qbridge: %s has no entity %q; it has %v\n", *specFile, *entity, s.EntityOrder)
		return 2
	}
	plan, err := mapping.Compile(s, e)
	if err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 2
	}
	var rec any
	dec := json.NewDecoder(stdin)
	if err := dec.Decode(&rec); err != nil {
		fmt.Fprintf(stderr, "qbridge: stdin is not one JSON record: %v\n", err)
		return 2
	}
	if _, ok := rec.(map[string]any); !ok {
		fmt.Fprintln(stderr, "qbridge: stdin must be one JSON object")
		return 2
	}
	res, err := plan.Map(rec)
	if err != nil {
		var me *mapping.Error
		if errors.As(err, &me) {
			enc := json.NewEncoder(stderr)
			enc.SetIndent("", "  ")
			_ = enc.Encode(me)
			return 1
		}
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 2
	}
	return 0
}
