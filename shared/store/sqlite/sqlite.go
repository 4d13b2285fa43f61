// Package sqlite implements qbridge's store ports in one local SQLite file,
// for the local runner. Every read-decide-write runs in one immediate
// transaction, so goroutines and processes sharing the file see the same
// atomic behaviour as DynamoDB's conditional writes.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/qbridge/qbridge/shared/model"
	"github.com/qbridge/qbridge/shared/sqlitedb"
	"github.com/qbridge/qbridge/shared/store"
)

const schema = `
CREATE TABLE IF NOT EXISTS entity_state (
	conn TEXT NOT NULL, entity TEXT NOT NULL, key TEXT NOT NULL,
	version INTEGER NOT NULL, hash TEXT NOT NULL, alisqi_id TEXT NOT NULL DEFAULT '', alisqi_key TEXT NOT NULL DEFAULT '',
	decision TEXT NOT NULL DEFAULT '', previous TEXT NOT NULL DEFAULT '',
	owner TEXT NOT NULL DEFAULT '', holder TEXT NOT NULL DEFAULT '', lease_until INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,
	PRIMARY KEY (conn, entity, key)
);
CREATE TABLE IF NOT EXISTS idempotency (
	key TEXT PRIMARY KEY, status INTEGER NOT NULL, result BLOB,
	lease_until INTEGER NOT NULL, expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS watermarks (job TEXT PRIMARY KEY, value INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (
	name TEXT PRIMARY KEY, milli_tokens INTEGER NOT NULL, refilled_at_ms INTEGER NOT NULL, blocked_until_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
	id INTEGER PRIMARY KEY AUTOINCREMENT, time_us INTEGER NOT NULL, conn TEXT NOT NULL, flow TEXT NOT NULL,
	entity TEXT NOT NULL, key TEXT NOT NULL, outcome TEXT NOT NULL, version INTEGER NOT NULL,
	payload_hash TEXT NOT NULL, message_id TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL,
	latency_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_by_key ON audit (conn, entity, key, time_us);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (conn, time_us);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
`

// Store implements every store port over one database.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

var (
	_ store.EntityStates = (*Store)(nil)
	_ store.Idempotency  = (*Store)(nil)
	_ store.Watermarks   = (*Store)(nil)
	_ store.Audit        = (*Store)(nil)
	_ store.RateLimiter  = (*Store)(nil)
)

// New creates the tables if needed. now may be nil (time.Now).
func New(db *sql.DB, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	if _, err := db.Exec(schema); err != nil {
		return nil, fmt.Errorf("sqlite store schema: %w", err)
	}
	return &Store{db: db, now: now}, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) getState(ctx context.Context, q querier, k model.EntityKey) (*store.EntityState, error) {
	var st store.EntityState
	var prev string
	var updated int64
	err := q.QueryRowContext(ctx, `SELECT version, hash, alisqi_id, alisqi_key, decision, previous, owner, holder, lease_until, updated_at
		FROM entity_state WHERE conn = ? AND entity = ? AND key = ?`, k.Connection, k.Entity, k.Key).
		Scan(&st.Version, &st.Hash, &st.AlisQIID, &st.AlisQIKey, &st.Decision, &prev, &st.Owner, &st.Holder, &st.LeaseUntil, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st.Key = k
	st.UpdatedAt = time.UnixMicro(updated).UTC()
	if prev != "" {
		if err := json.Unmarshal([]byte(prev), &st.Previous); err != nil {
			return nil, fmt.Errorf("state %s: previous: %w", k, err)
		}
	}
	return &st, nil
}

// GetMany implements store.EntityStates.
func (s *Store) GetMany(ctx context.Context, keys []model.EntityKey) (map[model.EntityKey]store.EntityState, error) {
	out := make(map[model.EntityKey]store.EntityState, len(keys))
	for _, k := range keys {
		st, err := s.getState(ctx, s.db, k)
		if err != nil {
			return nil, err
		}
		if st != nil {
			out[k] = *st
		}
	}
	return out, nil
}

// Apply implements store.EntityStates.
func (s *Store) Apply(ctx context.Context, next store.EntityState, force bool) (store.Outcome, *store.EntityState, error) {
	var outcome store.Outcome
	var current *store.EntityState
	err := sqlitedb.Tx(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		if current, err = s.getState(ctx, tx, next.Key); err != nil {
			return err
		}
		if outcome = store.Decide(current, &next, force, s.now()); outcome != store.Applied {
			return nil
		}
		return s.putState(ctx, tx, next)
	})
	if err != nil {
		return 0, nil, err
	}
	if outcome == store.Applied {
		return outcome, nil, nil
	}
	return outcome, current, nil
}

func (s *Store) putState(ctx context.Context, tx *sql.Tx, st store.EntityState) error {
	prev := ""
	if st.Previous != nil {
		b, err := json.Marshal(st.Previous)
		if err != nil {
			return err
		}
		prev = string(b)
	}
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO entity_state
		(conn, entity, key, version, hash, alisqi_id, alisqi_key, decision, previous, owner, holder, lease_until, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		st.Key.Connection, st.Key.Entity, st.Key.Key, st.Version, st.Hash, st.AlisQIID, st.AlisQIKey, st.Decision, prev, st.Owner, st.LeaseHolder(), st.LeaseUntil, s.now().UnixMicro())
	return err
}

// Restore implements store.EntityStates.
func (s *Store) Restore(ctx context.Context, k model.EntityKey, holder string, prev *store.EntityState) error {
	return sqlitedb.Tx(ctx, s.db, func(tx *sql.Tx) error {
		cur, err := s.getState(ctx, tx, k)
		if err != nil || cur == nil || cur.LeaseHolder() != holder {
			return err
		}
		if prev == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM entity_state WHERE conn = ? AND entity = ? AND key = ?`, k.Connection, k.Entity, k.Key)
			return err
		}
		p := *prev
		p.Key = k
		return s.putState(ctx, tx, p)
	})
}

// seconds rounds d up to whole seconds: a lease is never shorter than asked.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// Begin implements store.Idempotency.
func (s *Store) Begin(ctx context.Context, key string, lease, expiry time.Duration) (store.Begun, error) {
	var b store.Begun
	err := sqlitedb.Tx(ctx, s.db, func(tx *sql.Tx) error {
		now := s.now().Unix()
		var status int
		var result []byte
		var leaseUntil, expiresAt int64
		err := tx.QueryRowContext(ctx, `SELECT status, result, lease_until, expires_at FROM idempotency WHERE key = ?`, key).
			Scan(&status, &result, &leaseUntil, &expiresAt)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case expiresAt > now && store.IdempotencyStatus(status) == store.Completed:
			b = store.Begun{Status: store.Completed, Result: result, LeaseUntil: leaseUntil}
			return nil
		case expiresAt > now && leaseUntil > now:
			b = store.Begun{Status: store.InProgress, LeaseUntil: leaseUntil}
			return nil
		}
		b = store.Begun{Status: store.New, LeaseUntil: now + seconds(lease)}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO idempotency (key, status, result, lease_until, expires_at) VALUES (?, ?, NULL, ?, ?)`,
			key, int(store.InProgress), b.LeaseUntil, now+seconds(expiry))
		return err
	})
	return b, err
}

// Complete implements store.Idempotency.
func (s *Store) Complete(ctx context.Context, key string, result []byte, expiry time.Duration) error {
	if result == nil {
		result = []byte{}
	}
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO idempotency (key, status, result, lease_until, expires_at) VALUES (?, ?, ?, 0, ?)`,
		key, int(store.Completed), result, s.now().Unix()+seconds(expiry))
	return err
}

// Release implements store.Idempotency.
func (s *Store) Release(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM idempotency WHERE key = ? AND status = ?`, key, int(store.InProgress))
	return err
}

// Get implements store.Watermarks.
func (s *Store) Get(ctx context.Context, job string) (store.Watermark, error) {
	w := store.Watermark{Job: job}
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT value, updated_at FROM watermarks WHERE job = ?`, job).Scan(&w.Value, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return w, store.ErrNotFound
	}
	w.UpdatedAt = time.UnixMicro(updated).UTC()
	return w, err
}

// Advance implements store.Watermarks.
func (s *Store) Advance(ctx context.Context, job string, value int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO watermarks (job, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (job) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at WHERE watermarks.value < excluded.value`,
		job, value, s.now().UnixMicro())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Append implements store.Audit.
func (s *Store) Append(ctx context.Context, recs []store.AuditRecord) error {
	return sqlitedb.Tx(ctx, s.db, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit (time_us, conn, flow, entity, key, outcome, version, payload_hash, message_id, actor, detail, latency_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range recs {
			if _, err := stmt.ExecContext(ctx, r.Time.UnixMicro(), r.Connection, r.Flow, r.Entity, r.Key, r.Outcome, r.Version, r.PayloadHash, r.MessageID, r.Actor, r.Detail, r.LatencyMs); err != nil {
				return err
			}
		}
		return nil
	})
}

const auditColumns = `time_us, conn, flow, entity, key, outcome, version, payload_hash, message_id, actor, detail, latency_ms`

// ByKey implements store.Audit.
func (s *Store) ByKey(ctx context.Context, k model.EntityKey, since time.Time, limit int) ([]store.AuditRecord, error) {
	return s.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit WHERE conn = ? AND entity = ? AND key = ? AND time_us >= ?
		ORDER BY time_us DESC, id DESC LIMIT ?`, k.Connection, k.Entity, k.Key, since.UnixMicro(), limit)
}

// Since implements store.Audit.
func (s *Store) Since(ctx context.Context, connection string, since time.Time, limit int) ([]store.AuditRecord, error) {
	return s.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit WHERE conn = ? AND time_us >= ?
		ORDER BY time_us DESC, id DESC LIMIT ?`, connection, since.UnixMicro(), limit)
}

func (s *Store) queryAudit(ctx context.Context, query string, args ...any) ([]store.AuditRecord, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var us int64
		if err := rows.Scan(&us, &r.Connection, &r.Flow, &r.Entity, &r.Key, &r.Outcome, &r.Version, &r.PayloadHash, &r.MessageID, &r.Actor, &r.Detail, &r.LatencyMs); err != nil {
			return nil, err
		}
		r.Time = time.UnixMicro(us).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Take implements store.RateLimiter.
func (s *Store) Take(ctx context.Context, bucket string, n int, rate store.Rate) (time.Duration, error) {
	var wait time.Duration
	err := sqlitedb.Tx(ctx, s.db, func(tx *sql.Tx) error {
		var b store.Bucket
		err := tx.QueryRowContext(ctx, `SELECT milli_tokens, refilled_at_ms, blocked_until_ms FROM buckets WHERE name = ?`, bucket).
			Scan(&b.MilliTokens, &b.RefilledAtMs, &b.BlockedUntilMs)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		b, wait = b.Take(s.now(), n, rate)
		return s.putBucket(ctx, tx, bucket, b)
	})
	return wait, err
}

// Budget implements store.RateLimiter.
func (s *Store) Budget(ctx context.Context, bucket string, rate store.Rate) (int, time.Time, error) {
	var b store.Bucket
	err := s.db.QueryRowContext(ctx, `SELECT milli_tokens, refilled_at_ms, blocked_until_ms FROM buckets WHERE name = ?`, bucket).
		Scan(&b.MilliTokens, &b.RefilledAtMs, &b.BlockedUntilMs)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, err
	}
	return b.Available(s.now(), rate), time.UnixMilli(b.BlockedUntilMs).UTC(), nil
}

// Block implements store.RateLimiter.
func (s *Store) Block(ctx context.Context, bucket string, until time.Time) error {
	return sqlitedb.Tx(ctx, s.db, func(tx *sql.Tx) error {
		var b store.Bucket
		err := tx.QueryRowContext(ctx, `SELECT milli_tokens, refilled_at_ms, blocked_until_ms FROM buckets WHERE name = ?`, bucket).
			Scan(&b.MilliTokens, &b.RefilledAtMs, &b.BlockedUntilMs)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return s.putBucket(ctx, tx, bucket, b.Block(until))
	})
}

func (s *Store) putBucket(ctx context.Context, tx *sql.Tx, name string, b store.Bucket) error {
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO buckets (name, milli_tokens, refilled_at_ms, blocked_until_ms) VALUES (?, ?, ?, ?)`,
		name, b.MilliTokens, b.RefilledAtMs, b.BlockedUntilMs)
	return err
}
