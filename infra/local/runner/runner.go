// Package runner is qbridge's local stack (qbridge run): the real handlers
// of every function behind the same routes as the HTTP API (each request is
// turned into an HTTP API v2 event, so the handlers cannot tell), the
// inbound queue served from an embedded queue with SQS's semantics, the
// spec's schedules on an in-process cron, and the state in one SQLite file.
// A connection without credentials runs against labelled sandboxes of its
// ERP and AlisQI, so a newcomer sees a whole flow work.
package runner

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/qbridge/qbridge/shared/alisqi"
	"github.com/qbridge/qbridge/shared/connections"
	"github.com/qbridge/qbridge/shared/dispatch"
	"github.com/qbridge/qbridge/shared/erp/generic"
	"github.com/qbridge/qbridge/shared/httpapi"
	"github.com/qbridge/qbridge/shared/ingest"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/ops"
	"github.com/qbridge/qbridge/shared/poller"
	"github.com/qbridge/qbridge/shared/queue/embedded"
	"github.com/qbridge/qbridge/shared/sandbox/alisqisandbox"
	"github.com/qbridge/qbridge/shared/sandbox/bcsandbox"
	"github.com/qbridge/qbridge/shared/schedule"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/secrets/local"
	"github.com/qbridge/qbridge/shared/spec"
	"github.com/qbridge/qbridge/shared/sqlitedb"
	"github.com/qbridge/qbridge/shared/store/sqlite"
)

// Options configure a runner.
type Options struct {
	Addr        string   // listen address; default 127.0.0.1:8080 (another port if it is taken)
	Dir         string   // state folder; default .qbridge
	Specs       []string // spec files
	OpsToken    string   // operator token; default QBRIDGE_OPS_TOKEN or a random one
	Log         io.Writer
	Visibility  time.Duration // inbound visibility timeout; default 60 s
	BatchWindow time.Duration // default 1 s
	// SandboxSets gives typed fields to some sandbox AlisQI sets, by
	// connection and set (tests use it to make AlisQI refuse a value).
	SandboxSets map[string]map[int][]alisqi.FieldDef
	// NoHTTP builds everything but serves nothing (qbridge invoke).
	NoHTTP bool
}

// Sandbox is one connection's sandboxes.
type Sandbox struct {
	BC        *bcsandbox.Sandbox // nil for ERPs without a sandbox
	AlisQI    *alisqisandbox.Server
	BCURL     string
	AlisQIURL string
}

// Runner is a running local stack.
type Runner struct {
	URL         string
	OpsToken    string
	Specs       []*spec.Spec
	Sandboxes   map[string]*Sandbox // by connection
	Registry    *connections.Registry
	Store       *sqlite.Store
	Inbound     *embedded.Queue
	DeadLetters *embedded.Queue
	Ingest      *ingest.Service
	Dispatch    *dispatch.Dispatcher
	Ops         *ops.Service
	Waiting     []string // scheduled jobs that have no function yet

	db       *sql.DB
	log      *slog.Logger
	servers  []*http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopping atomic.Bool
}

// sandboxCredentials are what sandboxed connections use.
var sandboxCredentials = &secrets.Credentials{AlisQIToken: "sandbox-alisqi-token", ERPClientID: "sandbox-app", ERPClientSecret: "sandbox-app-secret",
	ClientState: "sandbox-client-state", WebhookSecret: "sandbox-webhook-secret"}

// SandboxCredentials returns the sandbox credential set (for samples and tests).
func SandboxCredentials() *secrets.Credentials { return sandboxCredentials }

// credentials serves configured credentials, and the sandbox set for
// sandboxed connections.
type credentials struct {
	src       secrets.Source
	sandboxed map[string]bool
}

func (c *credentials) Credentials(ctx context.Context, conn string) (*secrets.Credentials, error) {
	if c.sandboxed[conn] {
		return sandboxCredentials, nil
	}
	return c.src.Credentials(ctx, conn)
}

// Start builds and starts the stack.
func Start(ctx context.Context, o Options) (*Runner, error) {
	if o.Dir == "" {
		o.Dir = ".qbridge"
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.Visibility == 0 {
		o.Visibility = 60 * time.Second
	}
	if o.BatchWindow == 0 {
		o.BatchWindow = time.Second
	}
	if o.OpsToken == "" {
		o.OpsToken = os.Getenv("QBRIDGE_OPS_TOKEN")
	}
	if o.OpsToken == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		o.OpsToken = hex.EncodeToString(b)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	r := &Runner{OpsToken: o.OpsToken, Sandboxes: map[string]*Sandbox{},
		log: slog.New(slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	ok := false
	defer func() {
		if !ok {
			r.closeNow()
		}
	}()
	for _, f := range o.Specs {
		s, err := spec.Load(f)
		if err != nil {
			return nil, err
		}
		r.Specs = append(r.Specs, s)
	}
	var err error
	if r.db, err = sqlitedb.Open(filepath.Join(o.Dir, "qbridge.db")); err != nil {
		return nil, err
	}
	if r.Store, err = sqlite.New(r.db, nil); err != nil {
		return nil, err
	}
	broker, err := embedded.NewBroker(r.db)
	if err != nil {
		return nil, err
	}
	r.DeadLetters = broker.Queue("inbound-dlq", embedded.Config{})
	r.Inbound = broker.Queue("inbound", embedded.Config{Visibility: o.Visibility, MaxReceives: 5, DeadLetter: "inbound-dlq"})

	// A connection without credentials runs against sandboxes.
	creds := &credentials{src: &local.Source{File: filepath.Join(o.Dir, "secrets.json")}, sandboxed: map[string]bool{}}
	for _, s := range r.Specs {
		if _, err := creds.src.Credentials(ctx, s.Connection); model.ErrorCode(err) != model.ENotFound {
			if err != nil {
				return nil, err
			}
			continue
		}
		creds.sandboxed[s.Connection] = true
		sb, err := r.startSandbox(s, o.SandboxSets[s.Connection])
		if err != nil {
			return nil, err
		}
		r.Sandboxes[s.Connection] = sb
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if r.Registry, err = connections.New(r.Specs, connections.Options{Secrets: creds, HTTP: client, Limiter: r.Store}); err != nil {
		return nil, err
	}
	r.Ingest = &ingest.Service{Connections: r.Registry, Inbound: r.Inbound, Log: r.log.With("flow", "ingest"), MetricsOut: io.Discard}
	r.Dispatch = &dispatch.Dispatcher{Connections: r.Registry, States: r.Store, Audit: r.Store, Inbound: r.Inbound, DeadLetter: r.DeadLetters,
		Log: r.log.With("flow", "dispatch"), MetricsOut: io.Discard}
	r.Ops = &ops.Service{Connections: r.Registry, Audit: r.Store, Watermarks: r.Store, Limiter: r.Store, Inbound: r.Inbound,
		DeadLetters: []ops.DeadLetterQueue{{Name: "inbound dead letters", Queue: r.DeadLetters, Letters: broker.DeadLetters(r.DeadLetters, r.Inbound)}},
		Log:         r.log.With("flow", "ops")}

	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if !o.NoHTTP {
		if err := r.serve(o.Addr); err != nil {
			return nil, err
		}
		if err := r.subscribeSandboxes(ctx); err != nil {
			return nil, err
		}
		p := &poller.Poller{Queue: r.Inbound, Handler: r.Dispatch.HandleSQS, BatchSize: 1000, Window: o.BatchWindow,
			ARN: "arn:aws:sqs:local:000000000000:inbound", Timeout: 2 * time.Minute}
		r.wg.Add(2)
		go func() { defer r.wg.Done(); r.poll(runCtx, p) }()
		go func() { defer r.wg.Done(); r.flushSandboxes(runCtx) }()
		r.startCron(runCtx)
	}
	ok = true
	return r, nil
}

func listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil && strings.HasSuffix(addr, ":8080") {
		return net.Listen("tcp", strings.TrimSuffix(addr, ":8080")+":0") // the default port is taken: any free one
	}
	return l, err
}

func (r *Runner) startServer(addr string, h http.Handler) (string, error) {
	l, err := listen(addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	r.servers = append(r.servers, srv)
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), nil
}

func (r *Runner) startSandbox(s *spec.Spec, typed map[int][]alisqi.FieldDef) (*Sandbox, error) {
	sb := &Sandbox{AlisQI: alisqisandbox.New(sandboxCredentials.AlisQIToken.Reveal())}
	for _, set := range s.Sets() {
		sb.AlisQI.AddSet(alisqi.SetDefinition{ID: set, Name: fmt.Sprintf("%s set %d", s.Connection, set), Fields: typed[set]}, "measurementSet")
	}
	var err error
	if sb.AlisQIURL, err = r.startServer("127.0.0.1:0", sb.AlisQI.Handler()); err != nil {
		return nil, err
	}
	s.AlisQI.BaseURL = sb.AlisQIURL + "/api/"
	if s.ERP.System == "businesscentral" {
		sb.BC = bcsandbox.New(sandboxCredentials.ERPClientID, sandboxCredentials.ERPClientSecret.Reveal())
		if sb.BCURL, err = r.startServer("127.0.0.1:0", sb.BC.Handler()); err != nil {
			return nil, err
		}
		sb.BC.SetBase(sb.BCURL)
		s.ERP.BaseURL, s.ERP.TokenURL = sb.BC.BaseURL(), sb.BC.TokenURL()
	}
	return sb, nil
}

// subscribeSandboxes subscribes each BC sandbox to this runner's webhook
// URL for every entity that takes events; BC's handshake runs through the
// real ingest handler.
func (r *Runner) subscribeSandboxes(ctx context.Context) error {
	for _, s := range r.Specs {
		sb := r.Sandboxes[s.Connection]
		if sb == nil || sb.BC == nil {
			continue
		}
		for _, name := range s.EntityOrder {
			e := s.Entities[name]
			if e.Trigger == spec.TriggerSchedule {
				continue
			}
			res := e.Resource
			if !strings.HasPrefix(res, "api/") {
				res = "api/v2.0/" + res
			}
			k := strings.LastIndexByte(res, '/')
			res = res[:k] + "/companies(" + sb.BC.CompanyID + ")" + res[k:]
			if _, err := sb.BC.Subscribe(ctx, r.URL+"/erp/"+s.Connection+"/events", res, sandboxCredentials.ClientState.Reveal()); err != nil {
				return fmt.Errorf("sandbox subscription for %s: %w", name, err)
			}
		}
	}
	return nil
}

// flushSandboxes delivers BC sandbox notifications every second (the real
// BC debounces about 30 s).
func (r *Runner) flushSandboxes(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, sb := range r.Sandboxes {
				if sb.BC != nil {
					_ = sb.BC.Flush(ctx)
				}
			}
		}
	}
}

// poll feeds the inbound queue to dispatch. On stop it finishes the batch
// in hand; messages it never received stay queued, and any it received but
// could not finish return when their visibility timeout ends.
func (r *Runner) poll(ctx context.Context, p *poller.Poller) {
	for !r.stopping.Load() {
		if _, _, err := p.Once(context.WithoutCancel(ctx)); err != nil && !r.stopping.Load() {
			r.log.Error("poll", "error", err.Error())
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// startCron schedules the spec's jobs. Their handler is the sync function,
// which is not built yet: until it is, the jobs are listed as waiting.
func (r *Runner) startCron(ctx context.Context) {
	handlers := map[string]func(context.Context, string, spec.Job) error{} // by job kind; filled as flows land
	var jobs []Job
	for _, s := range r.Specs {
		for _, j := range s.Schedules() {
			h, ok := handlers[j.Kind]
			if !ok {
				r.Waiting = append(r.Waiting, s.Connection+"/"+j.Name+" "+j.Schedule)
				continue
			}
			sched, err := schedule.Parse(j.Schedule)
			if err != nil {
				continue // spec.Load checked it
			}
			conn, job := s.Connection, j
			jobs = append(jobs, Job{Name: conn + "/" + j.Name, Schedule: sched, Run: func(ctx context.Context) error { return h(ctx, conn, job) }})
		}
	}
	if len(jobs) == 0 {
		return
	}
	c := &Cron{Jobs: jobs, Log: r.log}
	r.wg.Add(1)
	go func() { defer r.wg.Done(); c.Run(ctx) }()
}

// Close stops the stack: no new requests, the batch in hand finished, the
// state file closed. Nothing in the queue is lost.
func (r *Runner) Close(ctx context.Context) error {
	r.stopping.Store(true)
	var errs []error
	for _, s := range r.servers {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() {
		r.cancel()
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, errors.New("stopped before the batch in hand finished; its messages return after their visibility timeout"))
	}
	errs = append(errs, r.db.Close())
	return errors.Join(errs...)
}

func (r *Runner) closeNow() {
	if r.cancel != nil {
		r.cancel()
	}
	for _, s := range r.servers {
		_ = s.Close()
	}
	if r.db != nil {
		_ = r.db.Close()
	}
}

// Resign refreshes a generic webhook sample's timestamp and signature with
// the sandbox secret, when its connection runs against sandboxes: a signed
// sample's timestamp soon falls outside the 5-minute replay window. It
// reports whether it changed the request.
func (r *Runner) Resign(ev *events.APIGatewayV2HTTPRequest) bool {
	if r.Sandboxes[ev.PathParameters["connection"]] == nil || ev.Headers["x-qbridge-signature"] == "" {
		return false
	}
	body, err := httpapi.Body(*ev)
	if err != nil {
		return false
	}
	ts, sig := generic.Sign(sandboxCredentials.WebhookSecret, time.Now(), body)
	ev.Headers["x-qbridge-timestamp"], ev.Headers["x-qbridge-signature"] = ts, sig
	return true
}
