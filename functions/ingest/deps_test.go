package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLambdaBinariesStayLean: no Lambda function links a sandbox, the test
// harness, the local SQLite store or queue, or the CDK.
func TestLambdaBinariesStayLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"/shared/sandbox/", "/shared/flowtest", "/shared/testenv", "/shared/store/sqlite", "/shared/queue/embedded",
		"/shared/sqlitedb", "modernc.org/sqlite", "aws-cdk-go", "/infra/"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.Contains(dep, f) {
				t.Errorf("a Lambda function depends on %s", dep)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/qbridge/qbridge/shared/dispatch") {
		t.Error("go list did not see the functions")
	}
}
