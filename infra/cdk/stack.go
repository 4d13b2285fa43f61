package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/qbridge/qbridge/shared/spec"
)

// Props configure one qbridge installation.
type Props struct {
	awscdk.StackProps
	Root        string       // the repository root: functions/ and dist/ are read from it
	Specs       []*spec.Spec // the installation's connections
	Functions   []string     // default: every folder under functions/
	MaxReceives int          // receives before the inbound queue dead-letters a message; default 5
}

// Stack is the deployed installation, with handles for tests.
type Stack struct {
	awscdk.Stack
	Functions   map[string]awslambda.Function
	Inbound     awssqs.Queue
	InboundDLQ  awssqs.Queue
	AsyncDLQ    awssqs.Queue
	StateTable  awsdynamodb.Table
	AuditTable  awsdynamodb.Table
	Secrets     map[string]awssecretsmanager.Secret
	Alarms      awssns.Topic
	API         awsapigatewayv2.HttpApi
	SchedulesOf []scheduleDef
}

// Resource limits that are decisions, in one place.
const (
	secretPrefix    = "qbridge/"
	logRetention    = awslogs.RetentionDays_THREE_MONTHS
	dispatchBatch   = 1000 // messages per dispatch invocation (each packs many events)
	dispatchWindow  = 5    // seconds the event source mapping waits to fill a batch: time to coalesce
	dispatchMaxConc = 2    // the SQS event source minimum: the shared AlisQI bucket meters the rest
	oldestAlarm     = 15 * 60
	throttleRate    = 50  // HTTP API steady requests per second, all routes
	throttleBurst   = 100 // and burst
)

// functionFolders lists functions/*/ that hold a main.go.
func functionFolders(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, "functions", e.Name(), "main.go")); e.IsDir() && err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// NewStack builds the installation. It fails with a clear message when a
// function's zip is missing (run make build first).
func NewStack(scope constructs.Construct, id string, p Props) (*Stack, error) {
	if p.MaxReceives == 0 {
		p.MaxReceives = 5
	}
	if p.Functions == nil {
		var err error
		if p.Functions, err = functionFolders(p.Root); err != nil {
			return nil, err
		}
	}
	for _, fn := range p.Functions {
		if _, err := os.Stat(zipOf(p.Root, fn)); err != nil {
			return nil, fmt.Errorf("%s is missing: run make build first", zipOf(p.Root, fn))
		}
	}
	st := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	s := &Stack{Stack: st, Functions: map[string]awslambda.Function{}, Secrets: map[string]awssecretsmanager.Secret{}}

	email := awscdk.NewCfnParameter(st, jsii.String("AlarmEmail"), &awscdk.CfnParameterProps{
		Type: jsii.String("String"), Default: jsii.String(""),
		Description: jsii.String("E-mail address that receives qbridge's alarms (leave empty to subscribe later)"),
	})
	s.queues(p)
	s.tables()
	s.secrets(p.Specs)
	s.alarmTopic(email)
	for _, fn := range p.Functions {
		s.function(p, fn)
	}
	s.httpAPI()
	s.schedules(p.Specs)
	s.monitoring(p.Specs)
	s.nagSuppressions()
	awscdk.NewCfnOutput(st, jsii.String("WebhookURL"), &awscdk.CfnOutputProps{
		Value:       jsii.String(*s.API.ApiEndpoint() + "/erp/{connection}/events"),
		Description: jsii.String("Point each ERP's webhooks (BC notificationUrl) here, with the connection's name"),
	})
	return s, nil
}

func zipOf(root, fn string) string { return filepath.Join(root, "dist", fn+".zip") }

func (s *Stack) queues(p Props) {
	queue := func(id string, dlq *awssqs.DeadLetterQueue, visibility float64) awssqs.Queue {
		return awssqs.NewQueue(s.Stack, jsii.String(id), &awssqs.QueueProps{
			Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:        jsii.Bool(true),
			RetentionPeriod:   awscdk.Duration_Days(jsii.Number(14)),
			VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(visibility)),
			DeadLetterQueue:   dlq,
		})
	}
	s.InboundDLQ = queue("InboundDeadLetterQueue", nil, 30)
	// Visibility: at least 6 × the dispatch timeout (AWS's advice for SQS
	// event sources), so a message is not redelivered while still in work.
	s.Inbound = queue("InboundQueue", &awssqs.DeadLetterQueue{Queue: s.InboundDLQ, MaxReceiveCount: jsii.Number(float64(p.MaxReceives))},
		6*sizing("dispatch").Timeout.Seconds())
	// Failed asynchronous invocations (scheduled runs) land here.
	s.AsyncDLQ = queue("AsyncFailuresQueue", nil, 30)
}

func (s *Stack) tables() {
	attr := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	// State: entity states, idempotency records, watermarks, rate buckets
	// (see shared/store/dynamo). Losing it would replay work, so it is kept.
	s.StateTable = awsdynamodb.NewTable(s.Stack, jsii.String("StateTable"), &awsdynamodb.TableProps{
		PartitionKey: attr("pk"), BillingMode: awsdynamodb.BillingMode_PAY_PER_REQUEST, TimeToLiveAttribute: jsii.String("exp"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		RemovalPolicy:                    awscdk.RemovalPolicy_RETAIN,
	})
	// Audit: evidence for quality audits. Retained, protected from deletion.
	s.AuditTable = awsdynamodb.NewTable(s.Stack, jsii.String("AuditTable"), &awsdynamodb.TableProps{
		PartitionKey: attr("pk"), SortKey: attr("sk"), BillingMode: awsdynamodb.BillingMode_PAY_PER_REQUEST, TimeToLiveAttribute: jsii.String("exp"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		DeletionProtection:               jsii.Bool(true),
		RemovalPolicy:                    awscdk.RemovalPolicy_RETAIN,
	})
}

// secrets creates one secret per connection holding a generated placeholder:
// the stack never contains a value; an operator puts the credential set.
func (s *Stack) secrets(specs []*spec.Spec) {
	for _, sp := range specs {
		s.Secrets[sp.Connection] = awssecretsmanager.NewSecret(s.Stack, jsii.String("Secret-"+sp.Connection), &awssecretsmanager.SecretProps{
			SecretName:  jsii.String(secretPrefix + sp.Connection),
			Description: jsii.String("qbridge credentials of connection " + sp.Connection + ": put the JSON credential set (see README)"),
			GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
				SecretStringTemplate: jsii.String(`{"placeholder":"put the credential set"}`), GenerateStringKey: jsii.String("unset"),
			},
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
	}
}

func (s *Stack) alarmTopic(email awscdk.CfnParameter) {
	s.Alarms = awssns.NewTopic(s.Stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("qbridge alarms"), EnforceSSL: jsii.Bool(true),
	})
	hasEmail := awscdk.NewCfnCondition(s.Stack, jsii.String("HasAlarmEmail"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(email.ValueAsString(), jsii.String(""))),
	})
	sub := awssns.NewSubscription(s.Stack, jsii.String("AlarmEmailSubscription"), &awssns.SubscriptionProps{
		Topic: s.Alarms, Protocol: awssns.SubscriptionProtocol_EMAIL, Endpoint: email.ValueAsString(),
	})
	sub.Node().DefaultChild().(awscdk.CfnResource).CfnOptions().SetCondition(hasEmail)
}

// function deploys functions/{name} with its own least-privilege role.
func (s *Stack) function(p Props, name string) {
	size := sizing(name)
	logs := awslogs.NewLogGroup(s.Stack, jsii.String(title(name)+"Logs"), &awslogs.LogGroupProps{
		Retention: logRetention, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(s.Stack, jsii.String(title(name)+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("qbridge " + name + ": only what the flow needs"),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn() + ":log-stream:*"),
	}))
	env := map[string]*string{
		"QBRIDGE_SECRET_PREFIX": jsii.String(secretPrefix),
		"QBRIDGE_SPECS":         jsii.String("/var/task/specs"),
	}
	var dlq awssqs.IQueue
	if size.Async {
		dlq = s.AsyncDLQ
	}
	fn := awslambda.NewFunction(s.Stack, jsii.String(title(name)+"Function"), &awslambda.FunctionProps{
		Description:     jsii.String("qbridge " + name + " — " + size.Why),
		Runtime:         awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:    awslambda.Architecture_ARM_64(),
		Handler:         jsii.String("bootstrap"),
		Code:            awslambda.Code_FromAsset(jsii.String(zipOf(p.Root, name)), nil),
		MemorySize:      jsii.Number(float64(size.MemoryMB)),
		Timeout:         awscdk.Duration_Seconds(jsii.Number(size.Timeout.Seconds())),
		Role:            role,
		LogGroup:        logs,
		LoggingFormat:   awslambda.LoggingFormat_JSON,
		Environment:     &env,
		DeadLetterQueue: dlq,
	})
	s.Functions[name] = fn
	for _, sec := range s.Secrets {
		sec.GrantRead(role, nil)
	}
	switch name {
	case "ingest":
		fn.AddEnvironment(jsii.String("QBRIDGE_INBOUND_QUEUE_URL"), s.Inbound.QueueUrl(), nil)
		s.Inbound.GrantSendMessages(role)
	case "dispatch":
		for k, v := range map[string]*string{
			"QBRIDGE_INBOUND_QUEUE_URL": s.Inbound.QueueUrl(), "QBRIDGE_DEADLETTER_QUEUE_URL": s.InboundDLQ.QueueUrl(),
			"QBRIDGE_STATE_TABLE": s.StateTable.TableName(), "QBRIDGE_AUDIT_TABLE": s.AuditTable.TableName(),
		} {
			fn.AddEnvironment(jsii.String(k), v, nil)
		}
		fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(s.Inbound, &awslambdaeventsources.SqsEventSourceProps{
			BatchSize:               jsii.Number(dispatchBatch),
			MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(dispatchWindow)),
			ReportBatchItemFailures: jsii.Bool(true),
			MaxConcurrency:          jsii.Number(dispatchMaxConc),
		}))
		s.Inbound.GrantSendMessages(role) // transient failures go back, alone and delayed
		s.InboundDLQ.GrantSendMessages(role)
		s.grantState(role, []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"}, "S#*", "R#*")
		s.grantAuditAppend(role)
	case "ops":
		for k, v := range map[string]*string{
			"QBRIDGE_INBOUND_QUEUE_URL": s.Inbound.QueueUrl(), "QBRIDGE_DEADLETTER_QUEUE_URL": s.InboundDLQ.QueueUrl(),
			"QBRIDGE_STATE_TABLE": s.StateTable.TableName(), "QBRIDGE_AUDIT_TABLE": s.AuditTable.TableName(),
		} {
			fn.AddEnvironment(jsii.String(k), v, nil)
		}
		// Health reads watermarks and the rate bucket; it changes no state.
		s.grantState(role, []string{"dynamodb:GetItem"}, "W#*", "R#*")
		s.grantAuditAppend(role) // operators' replays and discards
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("dynamodb:Query"), Resources: jsii.Strings(*s.AuditTable.TableArn()),
		}))
		s.Inbound.GrantSendMessages(role) // a replay goes back to the inbound queue
		s.InboundDLQ.GrantConsumeMessages(role)
	}
}

// grantState allows the actions on the state table's keys with the given
// prefixes only (dynamodb:LeadingKeys).
func (s *Stack) grantState(role awsiam.Role, actions []string, prefixes ...string) {
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(*s.StateTable.TableArn()),
		Conditions: &map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": prefixes},
		},
	}))
}

// grantAuditAppend allows adding audit pages and nothing else: no read,
// no update, no delete.
func (s *Stack) grantAuditAppend(role awsiam.Role) {
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:PutItem"),
		Resources: jsii.Strings(*s.AuditTable.TableArn()),
	}))
}

func (s *Stack) httpAPI() {
	s.API = awsapigatewayv2.NewHttpApi(s.Stack, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		Description: jsii.String("qbridge: ERP webhooks, AlisQI decisions, operator API"), CreateDefaultStage: jsii.Bool(false),
	})
	access := awslogs.NewLogGroup(s.Stack, jsii.String("HttpApiAccessLogs"), &awslogs.LogGroupProps{Retention: logRetention, RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	awsapigatewayv2.NewCfnStage(s.Stack, jsii.String("HttpApiStage"), &awsapigatewayv2.CfnStageProps{
		ApiId: s.API.ApiId(), StageName: jsii.String("$default"), AutoDeploy: jsii.Bool(true),
		DefaultRouteSettings: &awsapigatewayv2.CfnStage_RouteSettingsProperty{
			ThrottlingRateLimit: jsii.Number(throttleRate), ThrottlingBurstLimit: jsii.Number(throttleBurst),
		},
		AccessLogSettings: &awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
			DestinationArn: access.LogGroupArn(),
			// No body, no query string: payloads can hold personal data.
			Format: jsii.String(`{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime",` +
				`"method":"$context.httpMethod","route":"$context.routeKey","status":"$context.status","length":"$context.responseLength",` +
				`"latencyMs":"$context.responseLatency","error":"$context.integrationErrorMessage"}`),
		},
	})
	if fn, ok := s.Functions["ingest"]; ok {
		integ := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("IngestIntegration"), fn, nil)
		// ERPs cannot sign with AWS credentials: ingest verifies each caller
		// itself (HMAC signature, BC clientState) and answers 401 otherwise.
		s.API.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path: jsii.String("/erp/{connection}/events"), Integration: integ,
			Methods: &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_POST, awsapigatewayv2.HttpMethod_GET},
		})
	}
	if fn, ok := s.Functions["ops"]; ok {
		integ := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("OpsIntegration"), fn, nil)
		// Operators sign with AWS credentials (SigV4): never an open route.
		auth := awsapigatewayv2authorizers.NewHttpIamAuthorizer()
		for _, path := range []string{"/ops", "/ops/{proxy+}"} {
			s.API.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
				Path: jsii.String(path), Integration: integ, Authorizer: auth,
				Methods: &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET, awsapigatewayv2.HttpMethod_POST},
			})
		}
	}
}

// schedules creates the EventBridge rules the specs ask for, targeting the
// sync function once it exists.
func (s *Stack) schedules(specs []*spec.Spec) {
	s.SchedulesOf = schedules(specs)
	fn, ok := s.Functions["sync"]
	if !ok {
		return
	}
	for _, d := range s.SchedulesOf {
		awsevents.NewRule(s.Stack, jsii.String("Schedule-"+d.Name), &awsevents.RuleProps{
			Description: jsii.String("qbridge " + d.Name),
			Schedule:    awsevents.Schedule_Expression(jsii.String(d.Expression)),
			Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
				Event:           awsevents.RuleTargetInput_FromObject(d.Input),
				DeadLetterQueue: s.AsyncDLQ,
				RetryAttempts:   jsii.Number(2),
			})},
		})
	}
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
