package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/infra/local/runner"
)

// invoke runs one function's handler on one event file, against the local
// state (and the sandboxes, for connections without credentials), and
// prints the handler's response.
func invoke(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".qbridge", "state `folder`")
	var specs specList
	fs.Var(&specs, "spec", "a spec `file` (repeat; default the example specs)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "usage: qbridge invoke [--dir D] [--spec FILE]... ingest|dispatch|ops EVENT.json")
		return 2
	}
	if len(specs) == 0 {
		specs = defaultSpecs
	}
	fn, file := fs.Arg(0), fs.Arg(1)
	raw, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 2
	}
	ctx := context.Background()
	r, err := runner.Start(ctx, runner.Options{Dir: *dir, Specs: specs, NoHTTP: true, Log: io.Discard})
	if err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 1
	}
	defer r.Close(ctx)
	resp, err := Invoke(ctx, r, fn, raw, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(resp)
	return 0
}

// Invoke decodes raw as the event function takes and runs its handler.
func Invoke(ctx context.Context, r *runner.Runner, fn string, raw []byte, notes io.Writer) (any, error) {
	switch fn {
	case "ingest", "ops":
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("%s takes an HTTP API (payload 2.0) event: %v", fn, err)
		}
		if fn == "ops" {
			return r.Ops.HandleHTTP(ctx, ev)
		}
		if r.Resign(&ev) {
			fmt.Fprintln(notes, "note: re-signed the sample with the sandbox webhook secret (its timestamp was outside the 5-minute window)")
		}
		return r.Ingest.HandleHTTP(ctx, ev)
	case "dispatch":
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("dispatch takes an SQS event: %v", err)
		}
		return r.Dispatch.HandleSQS(ctx, ev)
	}
	return nil, fmt.Errorf("no function %q here: ingest, dispatch or ops", fn)
}
