// Command hello is the bare aws-lambda-go function qbridge's cold starts
// are compared with (make bench-coldstart): same runtime, nothing to load.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (string, error) { return "hello", nil })
}
