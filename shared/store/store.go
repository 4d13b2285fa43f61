// Package store defines qbridge's state ports: small interfaces in the
// domain's words, each with a DynamoDB implementation (store/dynamo, for
// Lambda) and an embedded one (store/sqlite, for the local runner), both held
// to one contract suite (store/storetest).
//
// Time units: every lease and expiry is whole seconds since the Unix epoch
// (DynamoDB's TTL format) or a time.Duration rounded to seconds. Nothing
// mixes seconds and milliseconds.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/qbridge/qbridge/shared/model"
)

// ErrNotFound is returned when a single requested item does not exist.
var ErrNotFound = errors.New("not found")

// EntityState is what qbridge last applied to AlisQI for one ERP record: the
// idempotency state of the inbound flow.
type EntityState struct {
	Key       model.EntityKey
	Version   int64          // model.ParseVersion of the record's change marker; 0 = unversioned
	Hash      string         // content hash of the mapped AlisQI result
	AlisQIID  string         // AlisQI "@id", when known
	AlisQIKey string         // the value of the AlisQI key field (needed once the ERP record is gone)
	Decision  string         // the last quality decision, when one was made
	Previous  map[string]any // the record fields quality triggers read as `previous`
	// Owner is the message that applied this state; it may re-apply it (a
	// retry of its own delivery) while others see it as unchanged.
	Owner string
	// LeaseUntil (Unix seconds) keeps every other writer off the key while
	// its holder writes to AlisQI, so two versions never race there.
	LeaseUntil int64
	// Holder is the processing run that holds the lease. It is not the
	// owner: one claim can be worked on by two runs at once (a message
	// redelivered while still in work), and those must not race either.
	// Empty means the owner holds it; the stores save LeaseHolder.
	Holder    string
	UpdatedAt time.Time
}

// LeaseHolder is who holds the state's lease: its holder, else its owner.
func (s *EntityState) LeaseHolder() string {
	if s.Holder != "" {
		return s.Holder
	}
	return s.Owner
}

// Outcome is what Apply did.
type Outcome int

// Apply outcomes.
const (
	Applied   Outcome = iota + 1 // the new state was written (one write)
	Stale                        // a newer version is already applied
	Unchanged                    // the same version and content are already applied
	Busy                         // another message holds the key's lease
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Stale:
		return "stale"
	case Unchanged:
		return "unchanged"
	case Busy:
		return "busy"
	}
	return "unknown"
}

// Decide says what applying next over current (nil if none) would do, from
// the state alone. Apply enforces the same rule atomically; callers use
// Decide on states read in bulk to skip stale and unchanged records without a
// write.
func Decide(current *EntityState, next *EntityState, force bool, now time.Time) Outcome {
	if current == nil {
		return Applied
	}
	mine := current.Owner != "" && current.Owner == next.Owner
	switch {
	case current.Version > next.Version:
		return Stale
	case current.Version == next.Version && current.Hash == next.Hash && !force && !mine:
		return Unchanged
	case current.LeaseUntil > now.Unix() && current.LeaseHolder() != next.LeaseHolder():
		return Busy
	}
	return Applied
}

// EntityStates is the xref / entity state store.
type EntityStates interface {
	// GetMany reads many states at once (DynamoDB: BatchGetItem, 100 keys a
	// call). Absent keys are absent from the map.
	GetMany(ctx context.Context, keys []model.EntityKey) (map[model.EntityKey]EntityState, error)
	// Apply writes next if Decide allows it against the stored state,
	// atomically (a conditional write). It returns the outcome and, when not
	// applied, the stored state that prevented it.
	Apply(ctx context.Context, next EntityState, force bool) (Outcome, *EntityState, error)
	// Restore puts back prev (or removes the state when prev is nil) if
	// holder still holds the key's lease: an AlisQI write that failed for
	// good must not leave a state claiming AlisQI holds it.
	Restore(ctx context.Context, key model.EntityKey, holder string, prev *EntityState) error
}

// IdempotencyStatus is the state of an idempotency record.
type IdempotencyStatus int

// Idempotency statuses.
const (
	New        IdempotencyStatus = iota + 1 // the caller owns the side effect now
	InProgress                              // another caller holds an unexpired lease
	Completed                               // done before; Result holds the stored result
)

func (s IdempotencyStatus) String() string {
	return [...]string{"", "new", "inProgress", "completed"}[s]
}

// Begun is the answer to Idempotency.Begin.
type Begun struct {
	Status IdempotencyStatus
	Result []byte // the stored result when Completed
	// LeaseUntil is when the current holder's lease runs out (Unix seconds).
	LeaseUntil int64
}

// Idempotency guards side effects that are not idempotent (ERP actions),
// Powertools-style: a conditional put with an in-progress lease.
type Idempotency interface {
	// Begin takes key for lease (rounded up to whole seconds) if it is absent,
	// expired, or in progress with an expired lease. A completed record is
	// kept for expiry.
	Begin(ctx context.Context, key string, lease, expiry time.Duration) (Begun, error)
	// Complete stores the result of the side effect; the record then answers
	// Completed until it expires.
	Complete(ctx context.Context, key string, result []byte, expiry time.Duration) error
	// Release drops an in-progress record after a failure so the side effect
	// can be tried again.
	Release(ctx context.Context, key string) error
}

// Watermark is how far a scheduled pull has read.
type Watermark struct {
	Job       string
	Value     int64 // the same scale as EntityState.Version (Unix microseconds for timestamps)
	UpdatedAt time.Time
}

// Watermarks stores one watermark per scheduled job.
type Watermarks interface {
	// Get returns the job's watermark, or ErrNotFound.
	Get(ctx context.Context, job string) (Watermark, error)
	// Advance moves the watermark forward to value; it never moves it back
	// (a conditional write), and reports whether it moved.
	Advance(ctx context.Context, job string, value int64) (bool, error)
}

// AuditRecord is one thing qbridge did with one message.
type AuditRecord struct {
	Time        time.Time `json:"time"`
	Connection  string    `json:"connection"`
	Flow        string    `json:"flow"`   // ingest dispatch sync outcome ops
	Entity      string    `json:"entity"` // the spec entity
	Key         string    `json:"key"`
	Outcome     string    `json:"outcome"` // applied coalesced stale unchanged deadLettered retried replayed discarded ...
	Version     int64     `json:"version,omitempty"`
	PayloadHash string    `json:"payloadHash,omitempty"`
	MessageID   string    `json:"messageId,omitempty"`
	Actor       string    `json:"actor,omitempty"`     // who, for manual actions
	Detail      string    `json:"detail,omitempty"`    // a reason; never personal data
	LatencyMs   int64     `json:"latencyMs,omitempty"` // from the ERP's change reaching qbridge to this outcome
}

// Audit is the append-only audit trail.
type Audit interface {
	// Append stores records; it never changes or removes earlier ones.
	Append(ctx context.Context, recs []AuditRecord) error
	// ByKey returns the records of one entity key since a time, newest first.
	ByKey(ctx context.Context, key model.EntityKey, since time.Time, limit int) ([]AuditRecord, error)
	// Since returns a connection's records since a time, newest first.
	Since(ctx context.Context, connection string, since time.Time, limit int) ([]AuditRecord, error)
}

// Rate is a token bucket's shape.
type Rate struct {
	PerMinute int // refill rate; also the capacity, so a quiet minute banks a full minute
}

// RateLimiter is a token bucket shared by every function and process using
// the same AlisQI token.
type RateLimiter interface {
	// Take takes n tokens from bucket if it has them and returns 0; else it
	// takes nothing and returns how long to wait before trying again.
	Take(ctx context.Context, bucket string, n int, rate Rate) (time.Duration, error)
	// Block empties bucket until t: AlisQI said 429 with Retry-After.
	Block(ctx context.Context, bucket string, until time.Time) error
	// Budget reports the tokens available now and until when the bucket
	// is blocked, without taking any.
	Budget(ctx context.Context, bucket string, rate Rate) (tokens int, blockedUntil time.Time, err error)
}
