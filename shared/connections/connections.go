// Package connections loads a qbridge installation's integration specs once
// per cold start and hands each flow what it needs per connection: the
// checked spec, compiled mapping plans and triggers, the ERP adapter and
// the AlisQI client (built with the connection's current credentials, which
// the secrets cache refreshes).
package connections

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/qbridge/qbridge/shared/alisqi"
	"github.com/qbridge/qbridge/shared/erp"
	"github.com/qbridge/qbridge/shared/erp/adapters"
	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/quality"
	"github.com/qbridge/qbridge/shared/secrets"
	"github.com/qbridge/qbridge/shared/spec"
)

// Connection is one loaded spec, compiled.
type Connection struct {
	Spec     *spec.Spec
	Plans    *mapping.Plans
	Triggers *quality.Triggers
}

// Name is the connection's id.
func (c *Connection) Name() string { return c.Spec.Connection }

// Options tune a Registry.
type Options struct {
	Secrets secrets.Source
	HTTP    *http.Client
	Limiter alisqi.Limiter // the shared AlisQI rate bucket store
	// Override may change a spec after loading, e.g. to point the local
	// runner at sandboxes. Production wiring leaves it nil.
	Override func(*spec.Spec)
}

// Registry holds every connection of an installation.
type Registry struct {
	opts  Options
	conns map[string]*Connection

	mu      sync.Mutex
	clients map[string]built // by connection, rebuilt when credentials change
}

type built struct {
	creds   *secrets.Credentials
	adapter erp.Adapter
	alisqi  *alisqi.Client
}

// LoadDir loads every *.yaml spec in dir. Any problem in any spec fails the
// load: a function must not start with half its connections.
func LoadDir(dir string, opts Options) (*Registry, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no specs (*.yaml) in %s", dir)
	}
	sort.Strings(files)
	var specs []*spec.Spec
	var problems []string
	for _, f := range files {
		s, err := spec.Load(f)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		specs = append(specs, s)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("specs in %s do not check:\n%s", dir, strings.Join(problems, "\n"))
	}
	return New(specs, opts)
}

// New builds a registry from checked specs.
func New(specs []*spec.Spec, opts Options) (*Registry, error) {
	r := &Registry{opts: opts, conns: map[string]*Connection{}, clients: map[string]built{}}
	if r.opts.HTTP == nil {
		r.opts.HTTP = http.DefaultClient
	}
	for _, s := range specs {
		if opts.Override != nil {
			opts.Override(s)
		}
		if _, dup := r.conns[s.Connection]; dup {
			return nil, fmt.Errorf("connection %s is defined twice (%s)", s.Connection, s.File)
		}
		plans, err := mapping.CompileSpec(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
		triggers, err := quality.New(s, plans)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
		r.conns[s.Connection] = &Connection{Spec: s, Plans: plans, Triggers: triggers}
	}
	return r, nil
}

// Get returns a connection by name.
func (r *Registry) Get(name string) (*Connection, bool) {
	c, ok := r.conns[name]
	return c, ok
}

// Names lists the connections, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.conns))
	for n := range r.conns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *Registry) clientsFor(ctx context.Context, c *Connection) (built, error) {
	creds, err := r.opts.Secrets.Credentials(ctx, c.Name())
	if err != nil {
		// Even a missing secret is "unavailable" to a caller: a 4xx would make
		// Business Central delete its subscription; a 503 is retried while an
		// operator puts the secret in place.
		return built{}, model.Wrap(model.EUnavailable, "credentials unavailable", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.clients[c.Name()]; ok && b.creds == creds {
		return b, nil
	}
	adapter, err := adapters.New(c.Spec, c.Plans, creds, r.opts.HTTP)
	if err != nil {
		return built{}, model.Wrap(model.EUnavailable, "ERP adapter unavailable", err)
	}
	client, err := alisqi.New(alisqi.Config{BaseURL: c.Spec.AlisQI.BaseURL, Token: creds.AlisQIToken, HTTP: r.opts.HTTP,
		Limiter: r.opts.Limiter, PerMinute: c.Spec.AlisQI.CallsPerMinute})
	if err != nil {
		return built{}, model.Wrap(model.EUnavailable, "AlisQI client unavailable", err)
	}
	b := built{creds: creds, adapter: adapter, alisqi: client}
	r.clients[c.Name()] = b
	return b, nil
}

// Adapter returns the connection's ERP adapter.
func (r *Registry) Adapter(ctx context.Context, c *Connection) (erp.Adapter, error) {
	b, err := r.clientsFor(ctx, c)
	return b.adapter, err
}

// AlisQI returns the connection's AlisQI client.
func (r *Registry) AlisQI(ctx context.Context, c *Connection) (*alisqi.Client, error) {
	b, err := r.clientsFor(ctx, c)
	return b.alisqi, err
}

// SpecDir is where functions find their specs: QBRIDGE_SPECS, else the
// specs folder bundled beside the bootstrap binary.
func SpecDir() string {
	if d := os.Getenv("QBRIDGE_SPECS"); d != "" {
		return d
	}
	if root := os.Getenv("LAMBDA_TASK_ROOT"); root != "" {
		return filepath.Join(root, "specs")
	}
	return "specs"
}
