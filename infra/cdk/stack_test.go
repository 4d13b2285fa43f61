package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/qbridge/qbridge/shared/spec"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close() // once: each restart of the jsii runtime costs seconds
	os.Exit(code)
}

// fakeRoot is a repository root with the given functions and their zips.
func fakeRoot(t testing.TB, fns ...string) string {
	root := t.TempDir()
	for _, fn := range fns {
		dir := filepath.Join(root, "functions", fn)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644)
		_ = os.MkdirAll(filepath.Join(root, "dist"), 0o755)
		_ = os.WriteFile(filepath.Join(root, "dist", fn+".zip"), []byte("zip of "+fn), 0o644)
	}
	return root
}

func specs(t testing.TB, names ...string) []*spec.Spec {
	var out []*spec.Spec
	for _, n := range names {
		s, err := spec.Load("../../testdata/specs/" + n + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

type synthesized struct {
	stack    *Stack
	template assertions.Template
	json     map[string]any
}

var (
	today     synthesized
	todayOnce sync.Once
)

// current synthesizes today's installation once: the functions that exist
// in functions/ now, every example spec, cdk-nag applied.
func current(t *testing.T) synthesized {
	t.Helper()
	todayOnce.Do(func() {
		fns, err := functionFolders("../..")
		if err != nil {
			t.Fatal(err)
		}
		app := awscdk.NewApp(nil)
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		st, err := NewStack(app, "Qbridge", Props{Root: fakeRoot(t, fns...), Specs: specs(t, "businesscentral", "generic", "s4hana")})
		if err != nil {
			t.Fatal(err)
		}
		today.stack = st
		today.template = assertions.Template_FromStack(st.Stack, nil)
		today.json = map[string]any{}
		for k, v := range *today.template.ToJSON() {
			today.json[k] = v
		}
	})
	if today.stack == nil {
		t.Fatal("synthesis failed in an earlier test")
	}
	return today
}

// check turns an assertion's panic into a test failure.
func check(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

func resources(s synthesized, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		if res := r.(map[string]any); res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

func TestFunctionsPinned(t *testing.T) {
	s := current(t)
	fns, _ := functionFolders("../..")
	if strings.Join(fns, ",") != "dispatch,ingest,ops" {
		t.Errorf("functions = %v: pin the new one's sizing, triggers and grants in these tests", fns)
	}
	check(t, "three functions", func() { s.template.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(3)) })
	for name, want := range map[string][2]float64{"ingest": {128, 10}, "dispatch": {512, 120}, "ops": {256, 15}} {
		check(t, name, func() {
			s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
				"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap",
				"MemorySize": want[0], "Timeout": want[1], "LoggingConfig": map[string]any{"LogFormat": "JSON"},
				"Description": assertions.Match_StringLikeRegexp(jsii.String("qbridge " + name + " — .+")),
			})
		})
	}
	deadLetterPaths(t, s)
	for id, fn := range resources(s, "AWS::Lambda::Function") {
		props := fn["Properties"].(map[string]any)
		if _, ok := props["LoggingConfig"].(map[string]any)["LogGroup"]; !ok {
			t.Errorf("function %s logs to a group without retention", id)
		}
	}
	check(t, "log retention", func() {
		s.template.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 90})
	})
}

// deadLetterPaths checks that no event can be lost at any function: each
// is invoked by an HTTP API route only (the caller gets the error and
// retries), or reads a queue that redrives to a dead-letter queue, or has a
// dead-letter queue for its asynchronous invocations.
func deadLetterPaths(t *testing.T, s synthesized) {
	t.Helper()
	redriven := map[string]bool{}
	queues := resources(s, "AWS::SQS::Queue")
	for _, m := range resources(s, "AWS::Lambda::EventSourceMapping") {
		props := m["Properties"].(map[string]any)
		src, _ := json.Marshal(props["EventSourceArn"])
		fn, _ := json.Marshal(props["FunctionName"])
		for id, q := range queues {
			if strings.Contains(string(src), id) && q["Properties"].(map[string]any)["RedrivePolicy"] != nil {
				redriven[string(fn)] = true
			}
		}
	}
	callers := map[string]map[string]bool{} // function id → invoking principals
	for _, p := range resources(s, "AWS::Lambda::Permission") {
		props := p["Properties"].(map[string]any)
		fn, _ := json.Marshal(props["FunctionName"])
		if callers[string(fn)] == nil {
			callers[string(fn)] = map[string]bool{}
		}
		callers[string(fn)][fmt.Sprint(props["Principal"])] = true
	}
	for id, fn := range resources(s, "AWS::Lambda::Function") {
		props := fn["Properties"].(map[string]any)
		ref := ""
		for k := range redriven {
			if strings.Contains(k, id) {
				ref = k
			}
		}
		apiOnly := false
		for k, principals := range callers {
			if strings.Contains(k, id) {
				apiOnly = len(principals) == 1 && principals["apigateway.amazonaws.com"]
			}
		}
		if props["DeadLetterConfig"] == nil && ref == "" && !apiOnly {
			t.Errorf("function %s has no dead-letter path", id)
		}
	}
}

func TestEventSourceMapping(t *testing.T) {
	s := current(t)
	check(t, "dispatch reads the inbound queue in large, coalescing batches", func() {
		s.template.ResourceCountIs(jsii.String("AWS::Lambda::EventSourceMapping"), jsii.Number(1))
		s.template.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
			"BatchSize": 1000, "MaximumBatchingWindowInSeconds": 5, "FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			"ScalingConfig": map[string]any{"MaximumConcurrency": 2},
		})
	})
}

func TestQueues(t *testing.T) {
	s := current(t)
	check(t, "three encrypted queues", func() {
		s.template.ResourceCountIs(jsii.String("AWS::SQS::Queue"), jsii.Number(3))
		s.template.AllResourcesProperties(jsii.String("AWS::SQS::Queue"), map[string]any{"SqsManagedSseEnabled": true, "MessageRetentionPeriod": 1209600})
	})
	check(t, "inbound: visibility 6 × the dispatch timeout, redrive after 5 receives", func() {
		s.template.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
			"VisibilityTimeout": 720, "RedrivePolicy": map[string]any{"maxReceiveCount": 5, "deadLetterTargetArn": assertions.Match_AnyValue()},
		})
	})
	check(t, "queues refuse plain HTTP", func() { s.template.ResourceCountIs(jsii.String("AWS::SQS::QueuePolicy"), jsii.Number(3)) })
}

func TestTables(t *testing.T) {
	s := current(t)
	check(t, "state and audit tables", func() {
		s.template.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(2))
		s.template.AllResourcesProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"BillingMode": "PAY_PER_REQUEST", "TimeToLiveSpecification": map[string]any{"AttributeName": "exp", "Enabled": true},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		})
		s.template.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"Properties":     map[string]any{"DeletionProtectionEnabled": true, "KeySchema": assertions.Match_ArrayWith(&[]any{map[string]any{"AttributeName": "sk", "KeyType": "RANGE"}})},
			"DeletionPolicy": "Retain",
		})
	})
}

// statements returns the IAM statements of the role whose id starts with prefix.
func statements(t *testing.T, s synthesized, role string) []map[string]any {
	var out []map[string]any
	for id, p := range resources(s, "AWS::IAM::Policy") {
		props := p["Properties"].(map[string]any)
		roles, _ := json.Marshal(props["Roles"])
		if !strings.Contains(string(roles), role) {
			continue
		}
		for _, st := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			m := st.(map[string]any)
			m["_policy"] = id
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no policy for role %s", role)
	}
	return out
}

func actions(st map[string]any) []string {
	switch a := st["Action"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func TestLeastPrivilege(t *testing.T) {
	s := current(t)
	raw, _ := json.Marshal(s.json["Resources"])
	for _, st := range resources(s, "AWS::IAM::Policy") {
		b, _ := json.Marshal(st)
		if strings.Contains(string(b), `"Resource":"*"`) || strings.Contains(string(b), `"*"]`) {
			t.Errorf("a policy grants on every resource: %s", b)
		}
	}
	if strings.Contains(string(raw), "ManagedPolicyArns") {
		t.Error("a role uses a managed policy")
	}
	for _, st := range statements(t, s, "IngestRole") {
		for _, a := range actions(st) {
			ok := strings.HasPrefix(a, "logs:") || a == "sqs:SendMessage" || a == "sqs:GetQueueAttributes" || a == "sqs:GetQueueUrl" ||
				a == "secretsmanager:GetSecretValue" || a == "secretsmanager:DescribeSecret"
			if !ok {
				t.Errorf("ingest may %s", a)
			}
			if strings.HasPrefix(a, "sqs:") {
				res, _ := json.Marshal(st["Resource"])
				if !strings.Contains(string(res), "InboundQueue") || strings.Contains(string(res), "DeadLetter") {
					t.Errorf("ingest may %s on %s: only the inbound queue", a, res)
				}
			}
		}
	}
	var ddb, audit int
	for _, st := range statements(t, s, "DispatchRole") {
		res, _ := json.Marshal(st["Resource"])
		for _, a := range actions(st) {
			if !strings.HasPrefix(a, "dynamodb:") {
				continue
			}
			if strings.Contains(string(res), "AuditTable") {
				audit++
				if a != "dynamodb:PutItem" {
					t.Errorf("dispatch may %s on the audit trail: only add to it", a)
				}
				continue
			}
			ddb++
			cond, _ := json.Marshal(st["Condition"])
			if !strings.Contains(string(cond), `"dynamodb:LeadingKeys":["S#*","R#*"]`) {
				t.Errorf("dispatch's state access is not limited to its keys: %s", cond)
			}
		}
	}
	if ddb == 0 || audit != 1 {
		t.Errorf("dispatch: %d state grants, %d audit grants", ddb, audit)
	}
	for _, st := range statements(t, s, "OpsRole") {
		res, _ := json.Marshal(st["Resource"])
		for _, a := range actions(st) {
			switch {
			case strings.HasPrefix(a, "logs:"), strings.HasPrefix(a, "secretsmanager:"):
			case strings.HasPrefix(a, "dynamodb:") && strings.Contains(string(res), "AuditTable"):
				if a != "dynamodb:PutItem" && a != "dynamodb:Query" {
					t.Errorf("ops may %s on the audit trail", a)
				}
			case strings.HasPrefix(a, "dynamodb:"):
				cond, _ := json.Marshal(st["Condition"])
				if a != "dynamodb:GetItem" || !strings.Contains(string(cond), `"dynamodb:LeadingKeys":["W#*","R#*"]`) {
					t.Errorf("ops may %s on the state table (%s)", a, cond)
				}
			case strings.HasPrefix(a, "sqs:"):
				if strings.Contains(string(res), "AsyncFailures") {
					t.Errorf("ops may %s on the async-failures queue", a)
				}
				if a == "sqs:DeleteMessage" && !strings.Contains(string(res), "InboundDeadLetterQueue") {
					t.Errorf("ops may delete from %s", res)
				}
			default:
				t.Errorf("ops may %s", a)
			}
		}
	}
}

func TestNoSecretValues(t *testing.T) {
	s := current(t)
	secrets := resources(s, "AWS::SecretsManager::Secret")
	if len(secrets) != 3 {
		t.Errorf("%d secrets, want one per connection (3)", len(secrets))
	}
	for id, sec := range secrets {
		props := sec["Properties"].(map[string]any)
		if _, ok := props["SecretString"]; ok {
			t.Errorf("secret %s has a value in the template", id)
		}
		if !strings.HasPrefix(fmt.Sprint(props["Name"]), "qbridge/") {
			t.Errorf("secret %s is named %v", id, props["Name"])
		}
	}
	raw, _ := json.Marshal(s.json)
	for _, leak := range []string{"alisqiToken\":\"", "erpClientSecret\":\"", "webhookSecret\":\"", "sandbox-"} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("the template contains %q", leak)
		}
	}
}

func TestHTTPAPI(t *testing.T) {
	s := current(t)
	check(t, "ops routes need IAM", func() {
		for _, rk := range []string{"GET /ops", "POST /ops/{proxy+}", "GET /ops/{proxy+}"} {
			s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{"RouteKey": rk, "AuthorizationType": "AWS_IAM"})
		}
	})
	for _, r := range resources(s, "AWS::ApiGatewayV2::Route") {
		props := r["Properties"].(map[string]any)
		if strings.Contains(fmt.Sprint(props["RouteKey"]), "/ops") && props["AuthorizationType"] != "AWS_IAM" {
			t.Errorf("open ops route %v", props["RouteKey"])
		}
	}
	check(t, "routes, throttling, access logs", func() {
		s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{"RouteKey": "POST /erp/{connection}/events"})
		s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{"RouteKey": "GET /erp/{connection}/events"})
		s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
			"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100},
			"AccessLogSettings":    map[string]any{"DestinationArn": assertions.Match_AnyValue(), "Format": assertions.Match_StringLikeRegexp(jsii.String(`.*requestId.*`))},
		})
	})
}

func TestAlarms(t *testing.T) {
	s := current(t)
	alarms := resources(s, "AWS::CloudWatch::Alarm")
	want := []string{"InboundDeadLettersAlarm", "AsyncFailuresAlarm", "InboundBacklogAlarm", "IngestErrorsAlarm", "DispatchThrottlesAlarm", "OpsErrorsAlarm",
		"AlisQIBudgetacmebc", "AlisQIThrottledacmebc", "WatermarkLagacmebc"}
	for _, w := range want {
		found := false
		for id := range alarms {
			found = found || strings.HasPrefix(id, w)
		}
		if !found {
			t.Errorf("no alarm %s", w)
		}
	}
	for id, a := range alarms {
		if acts, _ := json.Marshal(a["Properties"].(map[string]any)["AlarmActions"]); !strings.Contains(string(acts), "AlarmTopic") {
			t.Errorf("alarm %s tells no one", id)
		}
	}
	check(t, "dashboard and e-mail parameter", func() {
		s.template.ResourceCountIs(jsii.String("AWS::CloudWatch::Dashboard"), jsii.Number(1))
		s.template.HasParameter(jsii.String("AlarmEmail"), map[string]any{"Type": "String"})
		s.template.HasResource(jsii.String("AWS::SNS::Subscription"), map[string]any{"Condition": "HasAlarmEmail"})
	})
}

func TestSchedulesFromBusinessCentralSpec(t *testing.T) {
	got := map[string]string{}
	for _, d := range schedules(specs(t, "businesscentral")) {
		got[d.Name] = d.Expression
	}
	want := map[string]string{
		"acme-bc-pull-items": "cron(0 2 * * ? *)", "acme-bc-pull-locations": "rate(1 hour)", "acme-bc-pull-machineCenters": "rate(1 day)",
		"acme-bc-pull-workCenters": "rate(1 day)", "acme-bc-pull-purchaseOrders": "rate(15 minutes)", "acme-bc-pull-purchaseReceipts": "rate(15 minutes)",
		"acme-bc-pull-lots": "rate(1 hour)", "acme-bc-poll-lot-release": "rate(5 minutes)", "acme-bc-poll-item-block": "rate(5 minutes)",
		"acme-bc-renew-subscriptions": "rate(12 hours)",
	}
	if len(got) != len(want) {
		t.Errorf("schedules = %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// Today no sync function exists, so no rule is deployed...
	check(t, "no rules without sync", func() { current(t).template.ResourceCountIs(jsii.String("AWS::Events::Rule"), jsii.Number(0)) })
	// ...and once it lands, every schedule targets it with its job.
	app := awscdk.NewApp(nil)
	st, err := NewStack(app, "WithSync", Props{Root: fakeRoot(t, "ingest", "dispatch", "sync"), Specs: specs(t, "businesscentral")})
	if err != nil {
		t.Fatal(err)
	}
	tpl := assertions.Template_FromStack(st.Stack, nil)
	withSync := synthesized{stack: st, template: tpl, json: map[string]any{}}
	for k, v := range *tpl.ToJSON() {
		withSync.json[k] = v
	}
	deadLetterPaths(t, withSync)
	check(t, "sync's failed runs are dead-lettered", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"Description": assertions.Match_StringLikeRegexp(jsii.String("qbridge sync .*")), "DeadLetterConfig": assertions.Match_AnyValue()})
	})
	check(t, "rules target sync", func() {
		tpl.ResourceCountIs(jsii.String("AWS::Events::Rule"), jsii.Number(float64(len(want))))
		tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"ScheduleExpression": "rate(15 minutes)",
			"Targets": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Input":            `{"connection":"acme-bc","entity":"purchaseReceipts","job":"pull-purchaseReceipts","kind":"pull"}`,
				"DeadLetterConfig": assertions.Match_AnyValue(),
			})}),
		})
	})
}

func TestCdkNagFindsNothingUnsuppressed(t *testing.T) {
	s := current(t)
	errs := assertions.Annotations_FromStack(s.stack.Stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, e := range *errs {
		t.Errorf("cdk-nag: %+v", e)
	}
	warns := assertions.Annotations_FromStack(s.stack.Stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, w := range *warns {
		t.Logf("cdk-nag warning: %+v", w)
	}
}

func TestMissingZipIsAClearError(t *testing.T) {
	root := fakeRoot(t, "ingest")
	_ = os.Remove(filepath.Join(root, "dist", "ingest.zip"))
	_, err := NewStack(awscdk.NewApp(nil), "Broken", Props{Root: root, Specs: specs(t, "generic")})
	if err == nil || !strings.Contains(err.Error(), "ingest.zip is missing: run make build first") {
		t.Errorf("err = %v", err)
	}
}
