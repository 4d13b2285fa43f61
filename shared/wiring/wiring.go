// Package wiring builds each Lambda function's dependencies from its
// environment, once per cold start: AWS clients with the cost meter, the
// connection registry from the bundled specs, the secrets cache. Every
// function's main calls one constructor here and lambda.Start.
//
// Environment:
//
//	QBRIDGE_SPECS                folder of spec files (default: specs/ beside the binary)
//	QBRIDGE_STATE_TABLE          DynamoDB state table
//	QBRIDGE_AUDIT_TABLE          DynamoDB audit table
//	QBRIDGE_INBOUND_QUEUE_URL    SQS inbound queue
//	QBRIDGE_DEADLETTER_QUEUE_URL SQS dead-letter queue of the inbound queue
//	QBRIDGE_SECRET_PREFIX        Secrets Manager name prefix (default qbridge/)
//	QBRIDGE_MAX_BODY_BYTES       ingest body limit (default 1 MiB)
//	QBRIDGE_<SERVICE>_ENDPOINT   endpoint overrides (emulators)
package wiring

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/qbridge/qbridge/shared/awsenv"
	"github.com/qbridge/qbridge/shared/connections"
	"github.com/qbridge/qbridge/shared/dispatch"
	"github.com/qbridge/qbridge/shared/ingest"
	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/ops"
	sqsqueue "github.com/qbridge/qbridge/shared/queue/sqs"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/secrets/awssm"
	"github.com/qbridge/qbridge/shared/store/dynamo"
)

// Meter counts this process's AWS requests (exported for benchmarks).
var Meter = &obs.Meter{}

func env(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	return v, nil
}

// envs reads required variables.
func envs(names ...string) (map[string]string, error) {
	vars := map[string]string{}
	for _, n := range names {
		v, err := env(n)
		if err != nil {
			return nil, err
		}
		vars[n] = v
	}
	return vars, nil
}

// stateful builds what the functions that keep state share: the DynamoDB
// store (tables from the environment) and the connection registry using
// its rate bucket.
func stateful(cfg aws.Config) (*dynamo.Store, *connections.Registry, error) {
	vars, err := envs("QBRIDGE_STATE_TABLE", "QBRIDGE_AUDIT_TABLE")
	if err != nil {
		return nil, nil, err
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = awsenv.Endpoint("dynamodb") })
	st := dynamo.New(db, dynamo.Tables{State: vars["QBRIDGE_STATE_TABLE"], Audit: vars["QBRIDGE_AUDIT_TABLE"]}, nil)
	reg, err := registry(cfg, st)
	return st, reg, err
}

// httpClient is shared by the ERP adapters and AlisQI clients.
var httpClient = &http.Client{Timeout: 30 * time.Second}

func config() (aws.Config, error) { return awsenv.Config(Meter.APIOption) }

func registry(cfg aws.Config, limiter *dynamo.Store) (*connections.Registry, error) {
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = awsenv.Endpoint("secretsmanager") })
	opts := connections.Options{Secrets: secrets.NewCache(awssm.New(sm, os.Getenv("QBRIDGE_SECRET_PREFIX")), 0), HTTP: httpClient}
	if limiter != nil {
		opts.Limiter = limiter
	}
	return connections.LoadDir(connections.SpecDir(), opts)
}

func sqsClient(cfg aws.Config) *sqs.Client {
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = awsenv.Endpoint("sqs") })
}

// Ingest builds the ingest function. It needs no DynamoDB: it verifies and
// enqueues.
func Ingest() (*ingest.Service, error) {
	cfg, err := config()
	if err != nil {
		return nil, err
	}
	inbound, err := env("QBRIDGE_INBOUND_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	reg, err := registry(cfg, nil)
	if err != nil {
		return nil, err
	}
	maxBody := ingest.DefaultMaxBody
	if v := os.Getenv("QBRIDGE_MAX_BODY_BYTES"); v != "" {
		if maxBody, err = strconv.Atoi(v); err != nil || maxBody <= 0 {
			return nil, fmt.Errorf("QBRIDGE_MAX_BODY_BYTES %q is not a positive number", v)
		}
	}
	return &ingest.Service{Connections: reg, Inbound: sqsqueue.New(sqsClient(cfg), inbound), MaxBody: maxBody, Log: obs.Logger("ingest")}, nil
}

// installation is what the stateful functions (dispatch, ops) share: the
// state and audit store, the connections, and the inbound queue with its
// dead-letter queue.
type installation struct {
	store       *dynamo.Store
	registry    *connections.Registry
	inbound     *sqsqueue.Queue
	deadLetters *sqsqueue.Queue
}

func build() (installation, error) {
	cfg, err := config()
	if err != nil {
		return installation{}, err
	}
	vars, err := envs("QBRIDGE_INBOUND_QUEUE_URL", "QBRIDGE_DEADLETTER_QUEUE_URL")
	if err != nil {
		return installation{}, err
	}
	st, reg, err := stateful(cfg)
	if err != nil {
		return installation{}, err
	}
	sq := sqsClient(cfg)
	return installation{store: st, registry: reg, inbound: sqsqueue.New(sq, vars["QBRIDGE_INBOUND_QUEUE_URL"]),
		deadLetters: sqsqueue.New(sq, vars["QBRIDGE_DEADLETTER_QUEUE_URL"])}, nil
}

// Dispatch builds the dispatch function.
func Dispatch() (*dispatch.Dispatcher, error) {
	in, err := build()
	if err != nil {
		return nil, err
	}
	return &dispatch.Dispatcher{Connections: in.registry, States: in.store, Audit: in.store, Inbound: in.inbound,
		DeadLetter: in.deadLetters, Log: obs.Logger("dispatch")}, nil
}

// Ops builds the ops function: it reads the state and audit tables, the
// queues' depths and the dead letters, and adds audit records for the
// operators' actions.
func Ops() (*ops.Service, error) {
	in, err := build()
	if err != nil {
		return nil, err
	}
	return &ops.Service{Connections: in.registry, Audit: in.store, Watermarks: in.store, Limiter: in.store, Inbound: in.inbound, Log: obs.Logger("ops"),
		DeadLetters: []ops.DeadLetterQueue{{Name: "inbound dead letters", Queue: in.deadLetters,
			Letters: sqsqueue.NewDeadLetters(in.deadLetters, in.inbound, 5)}}}, nil
}
