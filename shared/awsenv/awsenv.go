// Package awsenv builds the AWS SDK configuration a function needs from its
// environment, without the SDK's config loader (which pulls in SSO, STS and
// shared-file parsing a Lambda never uses, and costs binary size and
// cold-start time). Lambda provides AWS_REGION and session credentials in
// the environment; tests and the local runner set the same variables and
// point services at emulators with QBRIDGE_<SERVICE>_ENDPOINT.
package awsenv

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
)

// Config returns a configuration from the environment; options such as a
// cost meter are added to every client built from it.
func Config(apiOptions ...func(*middleware.Stack) error) (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, fmt.Errorf("AWS_REGION is not set")
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))),
		APIOptions:  apiOptions,
	}, nil
}

// Endpoint returns QBRIDGE_<SERVICE>_ENDPOINT (e.g. QBRIDGE_DYNAMODB_ENDPOINT)
// or nil, for a client's BaseEndpoint.
func Endpoint(service string) *string {
	if v := os.Getenv("QBRIDGE_" + strings.ToUpper(service) + "_ENDPOINT"); v != "" {
		return &v
	}
	return nil
}

// Static returns a configuration for emulators: static test credentials.
func Static(region string, apiOptions ...func(*middleware.Stack) error) aws.Config {
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		APIOptions:  apiOptions,
	}
}
