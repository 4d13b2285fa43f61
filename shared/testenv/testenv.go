// Package testenv gives tests clients for the local AWS emulators that
// infra/scripts/with-emulators.sh starts (dynalite, fauxqs). Without an
// emulator a test skips with a clear message on a laptop and fails under
// CI=true, so CI can never pass by skipping. Test code only.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/qbridge/qbridge/shared/awsenv"
)

// Endpoint returns the emulator endpoint in env, or skips/fails the test.
func Endpoint(t testing.TB, env, name string) string {
	t.Helper()
	ep := os.Getenv(env)
	if ep != "" {
		return ep
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set: the %s emulator must run in CI (make test starts it)", env, name)
	}
	t.Skipf("%s not set: run with make test (or infra/scripts/with-emulators.sh) to test against %s", env, name)
	return ""
}

// Config returns an AWS configuration with static test credentials.
func Config(apiOptions ...func(*middleware.Stack) error) aws.Config {
	return awsenv.Static("us-east-1", apiOptions...)
}

// DynamoDB returns a client for dynalite.
func DynamoDB(t testing.TB, apiOptions ...func(*middleware.Stack) error) *dynamodb.Client {
	ep := Endpoint(t, "QBRIDGE_TEST_DYNAMODB_ENDPOINT", "dynalite")
	return dynamodb.NewFromConfig(Config(apiOptions...), func(o *dynamodb.Options) { o.BaseEndpoint = &ep })
}

// SQS returns a client for fauxqs.
func SQS(t testing.TB, apiOptions ...func(*middleware.Stack) error) *sqs.Client {
	ep := Endpoint(t, "QBRIDGE_TEST_SQS_ENDPOINT", "fauxqs")
	return sqs.NewFromConfig(Config(apiOptions...), func(o *sqs.Options) { o.BaseEndpoint = &ep })
}

// Name returns a unique name with prefix, for tables and queues.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
