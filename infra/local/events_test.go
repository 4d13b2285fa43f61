package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/infra/local/runner"
	"github.com/qbridge/qbridge/shared/erp/generic"
)

var exampleSpecs = []string{"../../testdata/specs/businesscentral.yaml", "../../testdata/specs/generic.yaml"}

// TestSampleEvents feeds every file in events/ through its function's handler.
func TestSampleEvents(t *testing.T) {
	ctx := context.Background()
	r, err := runner.Start(ctx, runner.Options{Dir: t.TempDir(), Specs: exampleSpecs, NoHTTP: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	want := map[string]int{ // HTTP status by sample; others must be 2xx
		"ops/replay.json": 404, "ops/discard.json": 404, // no such dead letter in a fresh state
	}
	files, _ := filepath.Glob("../../events/*/*.json")
	if len(files) < 10 {
		t.Fatalf("only %d sample events", len(files))
	}
	for _, f := range files {
		rel := strings.TrimPrefix(filepath.ToSlash(f), "../../events/")
		fn := strings.Split(rel, "/")[0]
		raw, _ := os.ReadFile(f)
		if rel == "ingest/generic-events.json" {
			checkSampleSignature(t, raw)
		}
		resp, err := Invoke(ctx, r, fn, raw, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		switch v := resp.(type) {
		case events.APIGatewayV2HTTPResponse:
			if status := want[rel]; (status == 0 && v.StatusCode/100 != 2) || (status != 0 && v.StatusCode != status) {
				t.Errorf("%s: %d %s", rel, v.StatusCode, v.Body)
			}
		case events.SQSEventResponse:
			if len(v.BatchItemFailures) != 0 {
				t.Errorf("%s: failures %v", rel, v.BatchItemFailures)
			}
		default:
			t.Errorf("%s: response %T", rel, resp)
		}
	}
	// The dispatch sample reached the AlisQI sandbox.
	if got := r.Sandboxes["northwind"].AlisQI.Results(11); len(got) != 1 || got[0]["item_code_"] != "NW-100" {
		t.Errorf("AlisQI after the dispatch sample: %v", got)
	}
	// The ingest samples were queued.
	if v, _, _ := r.Inbound.Depth(ctx); v < 2 {
		t.Errorf("%d messages queued by the ingest samples", v)
	}
}

// checkSampleSignature proves the generic sample is validly signed with the
// sandbox secret for its own timestamp (invoke re-signs it only because
// that time has passed).
func checkSampleSignature(t *testing.T, raw []byte) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ts := ev.Headers["x-qbridge-timestamp"]
	var sec int64
	for _, c := range ts {
		sec = sec*10 + int64(c-'0')
	}
	_, sig := generic.Sign(runner.SandboxCredentials().WebhookSecret, unix(sec), []byte(ev.Body))
	if sig != ev.Headers["x-qbridge-signature"] {
		t.Errorf("the generic sample's signature is not the sandbox secret's")
	}
}
