// Package dispatch is the inbound pipeline: one SQS batch of change events
// in, AlisQI results out, exactly once and as few calls as possible.
//
// Per batch it decodes the envelopes; expands Business Central
// "collection" notices into the records they name; coalesces events per
// entity key (newest version wins, the rest are "coalesced"); reads every
// key's state in one go; skips stale and duplicate events before fetching
// anything; fetches thin events' records, many keys per ERP call; maps them
// and skips unchanged content by hash; evaluates quality triggers; groups
// results by AlisQI set and writes them with storeResults + keyField in
// large chunks, claiming each key (one conditional write, with a short lease
// so two versions never race into AlisQI) just before its chunk is written;
// bisects a rejected chunk to find the poison record; sends records that can
// never succeed to the dead-letter queue at once with the reason (and puts
// their state back); and returns exactly the messages to retry. Every event
// gets an audit record and an EMF count of its outcome.
package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/qbridge/qbridge/shared/connections"
	"github.com/qbridge/qbridge/shared/mapping"
	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/quality"
	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/spec"
	"github.com/qbridge/qbridge/shared/store"
)

// Outcomes of an event, as the audit trail and metrics name them.
const (
	Applied      = "applied"      // written to AlisQI
	Coalesced    = "coalesced"    // superseded by a newer version in the same batch
	Stale        = "stale"        // a newer version was already applied
	Unchanged    = "unchanged"    // the same content was already applied
	Deleted      = "deleted"      // deleted in the ERP; AlisQI keeps its result (onDelete: ignore)
	Expanded     = "expanded"     // a collection notice, turned into its records
	DeadLettered = "deadLettered" // can never succeed as is: in the dead-letter queue with the reason
	Retried      = "retried"      // a transient failure: the message comes back
)

// Dispatcher is the dispatch flow.
type Dispatcher struct {
	Connections *connections.Registry
	States      store.EntityStates
	Audit       store.Audit
	DeadLetter  queue.Queue
	// Inbound, when set, lets a message that found its key busy come back
	// as soon as the other message's lease ends, not after the whole
	// visibility timeout.
	Inbound    queue.Queue
	Log        *slog.Logger
	MetricsOut io.Writer // EMF lines; default stdout
	Now        func() time.Time
	// Lease is how long a claimed key is kept from other messages while its
	// chunk is written; default 15 s. A write that needs longer (bisecting a
	// refused chunk under the rate limit) renews it first.
	Lease time.Duration
	// Parallel bounds concurrent state writes; default 16.
	Parallel int
	// Margin: no new AlisQI write starts this close to the deadline; the
	// rest is retried. Default 10 s.
	Margin time.Duration
	// MaxAttempts: an event that failed this often for transient reasons
	// goes to the dead-letter queue with its last error. Default 10 (about
	// an hour of backoff).
	MaxAttempts int
	// RetryBase is the first retry's delay; it doubles per attempt up to
	// the queue's 15 minutes. Default 5 s.
	RetryBase time.Duration
}

// item is one change event on its way through a batch.
type item struct {
	msg *message
	ev  model.ChangeEvent
	// owner claims the key: the message's owner, unless the stored state
	// belongs to another event coalesced into this one — then this event
	// is that claim's retry and acts as its owner.
	owner string
	// owners are the claim owners of every event coalesced into this one.
	owners []string
	conn   *connections.Connection
	entity *spec.Entity
	force  bool // an operator's replay: apply even if unchanged

	rec         map[string]any
	result      mapping.Result
	body        json.RawMessage
	inspections []quality.Inspection
	cur         *store.EntityState
	next        store.EntityState
	claimed     bool
	editOnly    bool // a deletion marking an existing result

	outcome string
	reason  string // why, for dead letters and the audit trail
	logged  string // the reason without record values, for logs
	// retryAt, when set, is when a retried item can succeed (another
	// message's lease ends, AlisQI's Retry-After passes), Unix seconds.
	retryAt int64
	// busy: the item only waited for another message's lease; nothing
	// failed, so it does not count as an attempt.
	busy bool
}

func (it *item) final() bool { return it.outcome != "" }

func (it *item) finish(outcome, reason string) {
	if it.outcome == "" {
		it.outcome, it.reason = outcome, reason
	}
}

// retry marks a transient failure: the item's message will come back.
func (it *item) retry(reason string) { it.finish(Retried, reason) }

// poison marks a record that can never succeed as it is.
func (it *item) poison(reason, logged string) {
	if it.outcome == "" {
		it.outcome, it.reason, it.logged = DeadLettered, reason, logged
	}
}

type message struct {
	m     queue.Message
	items []*item
	// owner claims the message's keys: the message id, or for a retry the
	// id of the message that first claimed them.
	owner   string
	attempt int // earlier attempts of these events
	// retry is set when the message itself must come back (a dead letter
	// that could not be sent, an audit trail that could not be written).
	retry bool
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

func (d *Dispatcher) metricsOut() io.Writer {
	if d.MetricsOut != nil {
		return d.MetricsOut
	}
	return os.Stdout
}

func (d *Dispatcher) lease() time.Duration {
	if d.Lease > 0 {
		return d.Lease
	}
	return 15 * time.Second
}

func (d *Dispatcher) parallel() int {
	if d.Parallel > 0 {
		return d.Parallel
	}
	return 16
}

func (d *Dispatcher) maxAttempts() int {
	if d.MaxAttempts > 0 {
		return d.MaxAttempts
	}
	return 10
}

func (d *Dispatcher) margin() time.Duration {
	if d.Margin > 0 {
		return d.Margin
	}
	return 10 * time.Second
}

// Process handles one batch and returns the ids of the messages to retry;
// every other message is done (applied, skipped or dead-lettered) and may
// be deleted.
func (d *Dispatcher) Process(ctx context.Context, msgs []queue.Message) []string {
	r := &run{d: d, id: runID(), start: d.now(), calls: map[*connections.Connection]int64{}, throttled: map[*connections.Connection]int64{}}
	r.decode(msgs)
	r.expand(ctx)
	r.resolve()
	winners := r.coalesce()
	r.readStates(ctx, winners)
	r.fetch(ctx, winners)
	r.prepare(winners)
	r.write(ctx, winners)
	r.finish(ctx)
	var retry []string
	for _, m := range r.msgs {
		if m.retry {
			retry = append(retry, m.m.ID)
		}
	}
	return retry
}

// run is the state of one Process call.
type run struct {
	d *Dispatcher
	// id holds the leases this run takes: a message processed by two runs
	// at once (redelivered while in work) must not race itself.
	id    string
	start time.Time
	msgs  []*message
	items []*item
	calls map[*connections.Connection]int64 // AlisQI calls made, per connection
	// throttled counts AlisQI's 429 answers, per connection.
	throttled map[*connections.Connection]int64
}

func runID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "run-" + hex.EncodeToString(b)
}
