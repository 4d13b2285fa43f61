package awsenv

import (
	"context"
	"testing"
)

func TestConfig(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	if _, err := Config(); err == nil {
		t.Error("no region accepted")
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	if _, err := Config(); err == nil {
		t.Error("no credentials accepted")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
	t.Setenv("AWS_SESSION_TOKEN", "tok")
	cfg, err := Config()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "eu-west-1" || creds.AccessKeyID != "AKIDEXAMPLE" || creds.SessionToken != "tok" {
		t.Errorf("config = %v %+v %v", cfg.Region, creds, err)
	}
	t.Setenv("QBRIDGE_SQS_ENDPOINT", "http://127.0.0.1:9")
	if e := Endpoint("sqs"); e == nil || *e != "http://127.0.0.1:9" {
		t.Errorf("Endpoint = %v", e)
	}
	if Endpoint("dynamodb") != nil {
		t.Error("unset endpoint not nil")
	}
}
