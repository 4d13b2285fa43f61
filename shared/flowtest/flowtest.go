// Package flowtest assembles the whole inbound path for end-to-end tests
// and the flow benchmark: the labelled BC and AlisQI sandboxes on loopback,
// DynamoDB state on dynalite and queues on fauxqs (the emulators make test
// starts), and the real ingest and dispatch handlers, with ingest served
// over HTTP exactly as API Gateway would call it. Test support only:
// production code never imports it.
package flowtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/qbridge/qbridge/shared/alisqi"
	"github.com/qbridge/qbridge/shared/awsenv"
	"github.com/qbridge/qbridge/shared/connections"
	"github.com/qbridge/qbridge/shared/dispatch"
	"github.com/qbridge/qbridge/shared/httpapi"
	"github.com/qbridge/qbridge/shared/ingest"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/obs"
	"github.com/qbridge/qbridge/shared/poller"
	sqsqueue "github.com/qbridge/qbridge/shared/queue/sqs"
	"github.com/qbridge/qbridge/shared/sandbox/alisqisandbox"
	"github.com/qbridge/qbridge/shared/sandbox/bcsandbox"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
	"github.com/qbridge/qbridge/shared/store"
	"github.com/qbridge/qbridge/shared/store/dynamo"
)

// Credentials are the sandbox connection's secrets.
var Credentials = &secrets.Credentials{AlisQIToken: "sandbox-alisqi-token", ERPClientID: "sandbox-app", ERPClientSecret: "sandbox-app-secret",
	ClientState: "sandbox-client-state", WebhookSecret: "sandbox-webhook-secret"}

// Options shape a harness.
type Options struct {
	SpecFile      string                    // e.g. testdata/specs/businesscentral.yaml
	DynamoDB, SQS string                    // emulator endpoints
	AlisQILimit   int                       // sandbox calls per minute; 0 = off
	Modify        func(*spec.Spec)          // after the sandbox URLs are set
	Sets          map[int][]alisqi.FieldDef // typed fields for some sets; others accept any field
	Visibility    time.Duration             // inbound queue visibility timeout; default 30 s
	MaxReceives   int                       // default 5
	HTTPTimeout   time.Duration             // qbridge's outbound HTTP timeout; default 10 s
	Lease         time.Duration             // dispatch's claim lease; default 5 s, to keep tests quick
	Window        time.Duration             // the pollers' batching window; default 300 ms
	Quiet         bool                      // no logs
}

// Harness is one running inbound path.
type Harness struct {
	Spec        *spec.Spec
	BC          *bcsandbox.Sandbox
	AlisQI      *alisqisandbox.Server
	Registry    *connections.Registry
	Store       *dynamo.Store
	Inbound     *sqsqueue.Queue
	DLQ         *sqsqueue.Queue
	DeadLetters *sqsqueue.DeadLetters
	Ingest      *ingest.Service
	Dispatch    *dispatch.Dispatcher
	Meter       *obs.Meter // every AWS request downstream of ingest (dispatch, state, pollers)
	IngestMeter *obs.Meter // ingest's queue sends
	IngestURL   string     // http://127.0.0.1:port
	// Invocations and busy time of each handler, for the cost model.
	IngestCalls, DispatchCalls atomic.Int64
	IngestNanos, DispatchNanos atomic.Int64
	servers                    []*httptest.Server
	window                     time.Duration
}

type fixedSecrets struct{}

func (fixedSecrets) Credentials(context.Context, string) (*secrets.Credentials, error) {
	return Credentials, nil
}

// New starts a harness.
func New(ctx context.Context, o Options) (*Harness, error) {
	if o.Visibility == 0 {
		o.Visibility = 30 * time.Second
	}
	if o.MaxReceives == 0 {
		o.MaxReceives = 5
	}
	if o.HTTPTimeout == 0 {
		o.HTTPTimeout = 10 * time.Second
	}
	if o.Window == 0 {
		o.Window = 300 * time.Millisecond
	}
	h := &Harness{Meter: &obs.Meter{}, IngestMeter: &obs.Meter{}, window: o.Window}
	h.BC = bcsandbox.New(Credentials.ERPClientID, Credentials.ERPClientSecret.Reveal())
	h.AlisQI = alisqisandbox.New(Credentials.AlisQIToken.Reveal())
	h.AlisQI.SetLimit(o.AlisQILimit)
	bcSrv := httptest.NewServer(h.BC.Handler())
	aqSrv := httptest.NewServer(h.AlisQI.Handler())
	h.servers = append(h.servers, bcSrv, aqSrv)
	h.BC.SetBase(bcSrv.URL)

	s, err := spec.Load(o.SpecFile)
	if err != nil {
		h.Close()
		return nil, err
	}
	s.AlisQI.BaseURL = aqSrv.URL + "/api/"
	if s.ERP.System == "businesscentral" {
		s.ERP.BaseURL, s.ERP.TokenURL = h.BC.BaseURL(), h.BC.TokenURL()
	}
	if o.Modify != nil {
		o.Modify(s)
	}
	h.Spec = s
	for _, set := range s.Sets() {
		h.AlisQI.AddSet(alisqi.SetDefinition{ID: set, Name: fmt.Sprintf("set %d", set), Fields: o.Sets[set]}, "measurementSet")
	}

	cfg := awsenv.Static("us-east-1", h.Meter.APIOption)
	db := dynamodb.NewFromConfig(cfg, func(opt *dynamodb.Options) { opt.BaseEndpoint = &o.DynamoDB })
	tables := dynamo.Tables{State: unique("state"), Audit: unique("audit")}
	if err := dynamo.CreateTables(ctx, db, tables); err != nil {
		h.Close()
		return nil, err
	}
	h.Store = dynamo.New(db, tables, nil)
	sq := sqs.NewFromConfig(cfg, func(opt *sqs.Options) { opt.BaseEndpoint = &o.SQS })
	inURL, dlqURL, err := sqsqueue.CreateQueues(ctx, sq, unique("inbound"), o.Visibility, o.MaxReceives)
	if err != nil {
		h.Close()
		return nil, err
	}
	h.Inbound, h.DLQ = sqsqueue.New(sq, inURL), sqsqueue.New(sq, dlqURL)
	h.DeadLetters = sqsqueue.NewDeadLetters(h.DLQ, h.Inbound, o.MaxReceives)

	client := &http.Client{Timeout: o.HTTPTimeout}
	h.Registry, err = connections.New([]*spec.Spec{s}, connections.Options{Secrets: fixedSecrets{}, HTTP: client, Limiter: h.Store})
	if err != nil {
		h.Close()
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.Quiet {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	ingestSQS := sqs.NewFromConfig(awsenv.Static("us-east-1", h.IngestMeter.APIOption), func(opt *sqs.Options) { opt.BaseEndpoint = &o.SQS })
	h.Ingest = &ingest.Service{Connections: h.Registry, Inbound: sqsqueue.New(ingestSQS, inURL), Log: log, MetricsOut: io.Discard}
	if o.Lease == 0 {
		o.Lease = 5 * time.Second
	}
	h.Dispatch = &dispatch.Dispatcher{Connections: h.Registry, States: h.Store, Audit: h.Store, DeadLetter: h.DLQ, Inbound: h.Inbound,
		Log: log, MetricsOut: io.Discard, Lease: o.Lease, Margin: time.Second, RetryBase: time.Second}
	ingestSrv := httptest.NewServer(h.IngestHandler())
	h.servers = append(h.servers, ingestSrv)
	h.IngestURL = ingestSrv.URL
	return h, nil
}

var seq struct {
	sync.Mutex
	n int
}

func unique(prefix string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), seq.n)
}

// IngestHandler serves POST/GET /erp/{connection}/events through the real
// ingest handler, converting each request into an HTTP API v2 event.
func (h *Harness) IngestHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) != 3 || parts[0] != "erp" || parts[2] != "events" {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		ev := httpapi.ToEvent(r, r.Method+" /erp/{connection}/events", map[string]string{"connection": parts[1]}, body)
		start := time.Now()
		resp, _ := h.Ingest.HandleHTTP(r.Context(), ev)
		h.IngestNanos.Add(int64(time.Since(start)))
		h.IngestCalls.Add(1)
		httpapi.WriteResponse(w, resp)
	})
}

// EventsURL is the connection's webhook URL.
func (h *Harness) EventsURL() string { return h.IngestURL + "/erp/" + h.Spec.Connection + "/events" }

// Poller feeds the inbound queue to the dispatch handler.
func (h *Harness) Poller(batch int) *poller.Poller {
	timed := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		start := time.Now()
		defer func() { h.DispatchNanos.Add(int64(time.Since(start))); h.DispatchCalls.Add(1) }()
		return h.Dispatch.HandleSQS(ctx, ev)
	}
	return &poller.Poller{Queue: h.Inbound, Handler: timed, BatchSize: batch, Window: h.window, ARN: "arn:aws:sqs:us-east-1:000000000000:inbound"}
}

// Drain runs workers pollers until the inbound queue holds nothing, in
// flight or waiting (retries come back delayed and are handled then), or
// until ctx ends. Workers are told to stop, not cancelled: a long poll cut
// off mid-way can still take a message server-side, which would then sit
// invisible for the whole visibility timeout.
func (h *Harness) Drain(ctx context.Context, workers, batch int) error {
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := h.Poller(batch)
			for !stop.Load() && ctx.Err() == nil {
				if _, _, err := p.Once(ctx); err != nil && ctx.Err() == nil {
					errs <- err
					stop.Store(true)
				}
			}
		}()
	}
	for !stop.Load() {
		visible, inFlight, err := h.Inbound.Depth(ctx)
		switch {
		case err != nil:
			errs <- err
		case ctx.Err() != nil:
			errs <- ctx.Err()
		case visible+inFlight > 0:
			t := time.NewTimer(200 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		stop.Store(true)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// Close stops the servers.
func (h *Harness) Close() {
	for _, s := range h.servers {
		s.Close()
	}
}

// Audit returns every audit record of the connection since t.
func (h *Harness) Audit(ctx context.Context, since time.Time) ([]store.AuditRecord, error) {
	return h.Store.Since(ctx, h.Spec.Connection, since, 1<<30)
}

// Key is an entity key of the harness's connection.
func (h *Harness) Key(entity, key string) model.EntityKey {
	return model.EntityKey{Connection: h.Spec.Connection, Entity: entity, Key: key}
}
