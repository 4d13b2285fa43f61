package wiring

import (
	"strings"
	"testing"
)

func setEnv(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"QBRIDGE_SPECS": "../../testdata/specs", "QBRIDGE_STATE_TABLE": "state", "QBRIDGE_AUDIT_TABLE": "audit",
		"QBRIDGE_INBOUND_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/inbound", "QBRIDGE_DEADLETTER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/dlq",
	} {
		t.Setenv(k, v)
	}
}

// Each function builds from its environment without calling AWS.
func TestFunctionsBuildFromTheirEnvironment(t *testing.T) {
	setEnv(t)
	in, err := Ingest()
	if err != nil || in.MaxBody != 1<<20 || len(in.Connections.Names()) != 3 {
		t.Fatalf("ingest: %+v, %v", in, err)
	}
	d, err := Dispatch()
	if err != nil || d.Inbound == nil || d.DeadLetter == nil || d.States == nil {
		t.Fatalf("dispatch: %v", err)
	}
	o, err := Ops()
	if err != nil || len(o.DeadLetters) != 1 || o.Inbound == nil {
		t.Fatalf("ops: %v", err)
	}
}

func TestMissingEnvironmentIsNamed(t *testing.T) {
	setEnv(t)
	t.Setenv("QBRIDGE_DEADLETTER_QUEUE_URL", "")
	if _, err := Dispatch(); err == nil || !strings.Contains(err.Error(), "QBRIDGE_DEADLETTER_QUEUE_URL is not set") {
		t.Errorf("err = %v", err)
	}
	t.Setenv("QBRIDGE_MAX_BODY_BYTES", "lots")
	if _, err := Ingest(); err == nil || !strings.Contains(err.Error(), "QBRIDGE_MAX_BODY_BYTES") {
		t.Errorf("err = %v", err)
	}
	t.Setenv("QBRIDGE_MAX_BODY_BYTES", "")
	t.Setenv("QBRIDGE_SPECS", t.TempDir())
	if _, err := Ingest(); err == nil || !strings.Contains(err.Error(), "no specs") {
		t.Errorf("err = %v", err)
	}
}
