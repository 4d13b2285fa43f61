// Command ops is the operators' Lambda (HTTP API, IAM-authorized): health,
// KPIs, dead letters, mapping preview and the console page. See shared/ops.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/qbridge/qbridge/shared/wiring"
)

func main() {
	svc, err := wiring.Ops()
	if err != nil {
		slog.Error("ops: cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(svc.HandleHTTP)
}
