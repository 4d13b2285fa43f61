// Command dispatch is the inbound queue's Lambda (SQS, batch item
// failures reported): change events in, AlisQI results out. See
// shared/dispatch.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/qbridge/qbridge/shared/wiring"
)

func main() {
	d, err := wiring.Dispatch()
	if err != nil {
		slog.Error("dispatch: cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(d.HandleSQS)
}
