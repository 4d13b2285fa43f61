// Command ingest is the ERP webhook Lambda (HTTP API): it verifies the
// caller, enqueues change events and answers 202. See shared/ingest.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/qbridge/qbridge/shared/wiring"
)

func main() {
	svc, err := wiring.Ingest()
	if err != nil {
		slog.Error("ingest: cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(svc.HandleHTTP)
}
