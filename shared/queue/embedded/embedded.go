// Package embedded implements the queue port in the local runner's SQLite
// file, with SQS's semantics: visibility timeout, receive count, redrive to
// a dead-letter queue after max receives, batches, long polling. Messages
// survive a restart; in-flight ones become visible again when their
// visibility timeout runs out, as in SQS.
package embedded

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/qbridge/qbridge/shared/queue"
	"github.com/qbridge/qbridge/shared/sqlitedb"
)

const schema = `
CREATE TABLE IF NOT EXISTS queue_messages (
	id TEXT PRIMARY KEY, queue TEXT NOT NULL, body BLOB NOT NULL, attrs TEXT NOT NULL,
	sent_at INTEGER NOT NULL, visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0,
	first_received_at INTEGER NOT NULL DEFAULT 0, receipt TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS queue_ready ON queue_messages (queue, visible_at);
`

// Broker holds every embedded queue of one database.
type Broker struct {
	db      *sql.DB
	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

// NewBroker creates the queue table if needed.
func NewBroker(db *sql.DB) (*Broker, error) {
	if _, err := db.Exec(schema); err != nil {
		return nil, fmt.Errorf("embedded queue schema: %w", err)
	}
	return &Broker{db: db, waiters: map[string][]chan struct{}{}}, nil
}

// Config is a queue's behaviour.
type Config struct {
	Visibility  time.Duration // default 30s
	MaxReceives int           // 0: never redrive
	DeadLetter  string        // the dead-letter queue's name
}

// Queue is one named queue.
type Queue struct {
	b    *Broker
	name string
	cfg  Config
}

var _ queue.Queue = (*Queue)(nil)

// Queue returns the named queue.
func (b *Broker) Queue(name string, cfg Config) *Queue {
	if cfg.Visibility == 0 {
		cfg.Visibility = 30 * time.Second
	}
	return &Queue{b: b, name: name, cfg: cfg}
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Send implements queue.Queue.
func (q *Queue) Send(ctx context.Context, msgs []queue.Outgoing) error {
	if err := queue.Check(msgs); err != nil {
		return err
	}
	err := sqlitedb.Tx(ctx, q.b.db, func(tx *sql.Tx) error {
		now := time.Now()
		for _, m := range msgs {
			attrs, _ := json.Marshal(m.Attributes)
			visible := now.Add(min(queue.MaxDelay, max(0, m.Delay)).Truncate(time.Second))
			if _, err := tx.ExecContext(ctx, `INSERT INTO queue_messages (id, queue, body, attrs, sent_at, visible_at) VALUES (?, ?, ?, ?, ?, ?)`,
				newID(), q.name, m.Body, string(attrs), now.UnixMicro(), visible.UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		q.b.wake(q.name)
	}
	return err
}

// wake tells receivers waiting on name that messages arrived.
func (b *Broker) wake(name string) {
	b.mu.Lock()
	for _, c := range b.waiters[name] {
		close(c)
	}
	delete(b.waiters, name)
	b.mu.Unlock()
}

func (b *Broker) waiter(name string) chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := make(chan struct{})
	b.waiters[name] = append(b.waiters[name], c)
	return c
}

// Receive implements queue.Queue: it waits up to wait for a first message,
// polling at least every 200 ms for messages whose visibility ran out.
func (q *Queue) Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error) {
	deadline := time.Now().Add(wait)
	for {
		woken := q.b.waiter(q.name)
		msgs, err := q.receive(ctx, max, q.cfg.Visibility)
		if err != nil || len(msgs) > 0 || !time.Now().Before(deadline) {
			return msgs, err
		}
		t := time.NewTimer(min(time.Until(deadline), 200*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-woken:
		case <-t.C:
		}
		t.Stop()
	}
}

func (q *Queue) receive(ctx context.Context, max int, visibility time.Duration) ([]queue.Message, error) {
	var out []queue.Message
	err := sqlitedb.Tx(ctx, q.b.db, func(tx *sql.Tx) error {
		now := time.Now()
		candidates, err := scanMessages(tx.QueryContext(ctx, `SELECT `+columns+` FROM queue_messages
			WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, sent_at LIMIT ?`, q.name, now.UnixMicro(), max))
		if err != nil {
			return err
		}
		for _, m := range candidates {
			if q.cfg.MaxReceives > 0 && m.ReceiveCount >= q.cfg.MaxReceives && q.cfg.DeadLetter != "" {
				// Like SQS: the receive that finds it over its max moves it.
				if _, err := tx.ExecContext(ctx, `UPDATE queue_messages SET queue = ?, visible_at = ?, receipt = '' WHERE id = ?`,
					q.cfg.DeadLetter, now.UnixMicro(), m.ID); err != nil {
					return err
				}
				continue
			}
			m.ReceiveCount++
			if m.FirstReceivedAt.IsZero() {
				m.FirstReceivedAt = now.UTC()
			}
			m.Receipt = newID()
			if _, err := tx.ExecContext(ctx, `UPDATE queue_messages SET receive_count = ?, first_received_at = ?, visible_at = ?, receipt = ? WHERE id = ?`,
				m.ReceiveCount, m.FirstReceivedAt.UnixMicro(), now.Add(visibility).UnixMicro(), m.Receipt, m.ID); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// columns are the message columns scanMessage reads, in its order.
const columns = `id, body, attrs, sent_at, receive_count, first_received_at`

// scanMessage reads one row of columns.
func scanMessage(row interface{ Scan(...any) error }) (queue.Message, error) {
	var m queue.Message
	var attrs string
	var sent, first int64
	if err := row.Scan(&m.ID, &m.Body, &attrs, &sent, &m.ReceiveCount, &first); err != nil {
		return m, err
	}
	_ = json.Unmarshal([]byte(attrs), &m.Attributes)
	m.SentAt = time.UnixMicro(sent).UTC()
	if first != 0 {
		m.FirstReceivedAt = time.UnixMicro(first).UTC()
	}
	return m, nil
}

// scanMessages reads every row of a query of columns and closes it.
func scanMessages(rows *sql.Rows, err error) ([]queue.Message, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []queue.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Delete implements queue.Queue. A stale receipt (the message was received
// again since) deletes nothing, as in SQS.
func (q *Queue) Delete(ctx context.Context, receipts []string) error {
	for _, r := range receipts {
		if _, err := q.b.db.ExecContext(ctx, `DELETE FROM queue_messages WHERE queue = ? AND receipt = ?`, q.name, r); err != nil {
			return err
		}
	}
	return nil
}

// ChangeVisibility implements queue.Queue.
func (q *Queue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	res, err := q.b.db.ExecContext(ctx, `UPDATE queue_messages SET visible_at = ? WHERE queue = ? AND receipt = ?`,
		time.Now().Add(d).UnixMicro(), q.name, receipt)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errors.New("embedded queue: receipt handle is not valid")
	}
	if d == 0 {
		q.b.wake(q.name)
	}
	return nil
}

// Depth returns the number of visible messages and of those in flight or
// delayed, as SQS's approximate counts do.
func (q *Queue) Depth(ctx context.Context) (visible, inFlight int, err error) {
	now := time.Now().UnixMicro()
	err = q.b.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(visible_at <= ?), 0), COALESCE(SUM(visible_at > ?), 0) FROM queue_messages WHERE queue = ?`,
		now, now, q.name).Scan(&visible, &inFlight)
	return visible, inFlight, err
}

// Oldest returns the age of the oldest message (0 when empty).
func (q *Queue) Oldest(ctx context.Context) (time.Duration, error) {
	var oldest sql.NullInt64
	if err := q.b.db.QueryRowContext(ctx, `SELECT MIN(sent_at) FROM queue_messages WHERE queue = ?`, q.name).Scan(&oldest); err != nil || !oldest.Valid {
		return 0, err
	}
	return time.Since(time.UnixMicro(oldest.Int64)), nil
}

// DeadLetters works on an embedded dead-letter queue.
type DeadLetters struct {
	dlq, source *Queue
}

var _ queue.DeadLetters = (*DeadLetters)(nil)

// DeadLetters returns the operator's view of dlq, whose messages came from source.
func (b *Broker) DeadLetters(dlq, source *Queue) *DeadLetters {
	return &DeadLetters{dlq: dlq, source: source}
}

// List implements queue.DeadLetters; the embedded queue can peek.
func (d *DeadLetters) List(ctx context.Context, max int) ([]queue.DeadLetter, error) {
	msgs, err := scanMessages(d.dlq.b.db.QueryContext(ctx, `SELECT `+columns+` FROM queue_messages WHERE queue = ? ORDER BY sent_at LIMIT ?`, d.dlq.name, max))
	if err != nil {
		return nil, err
	}
	out := make([]queue.DeadLetter, len(msgs))
	for i, m := range msgs {
		out[i] = queue.DeadLetterOf(m, d.source.cfg.MaxReceives)
	}
	return out, nil
}

// take reads the dead letter with id and, when there is one, does act with
// it, in one transaction. It returns the letter, or nil when there is none.
func (d *DeadLetters) take(ctx context.Context, id string, act func(*sql.Tx, *queue.DeadLetter) error) (*queue.DeadLetter, error) {
	var dl *queue.DeadLetter
	err := sqlitedb.Tx(ctx, d.dlq.b.db, func(tx *sql.Tx) error {
		m, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM queue_messages WHERE id = ? AND queue = ?`, id, d.dlq.name))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		letter := queue.DeadLetterOf(m, d.source.cfg.MaxReceives)
		if err := act(tx, &letter); err != nil {
			return err
		}
		dl = &letter
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dl, nil
}

// Replay implements queue.DeadLetters: the message goes back to its source,
// marked as a replay, in one transaction.
func (d *DeadLetters) Replay(ctx context.Context, id string) (*queue.DeadLetter, error) {
	dl, err := d.take(ctx, id, func(tx *sql.Tx, dl *queue.DeadLetter) error {
		attrs := map[string]string{}
		for k, v := range dl.Attributes {
			attrs[k] = v
		}
		attrs[queue.AttrReplay] = "true"
		b, _ := json.Marshal(attrs)
		now := time.Now().UnixMicro()
		// A new id, as SQS gives a re-sent message.
		_, err := tx.ExecContext(ctx, `UPDATE queue_messages SET id = ?, queue = ?, attrs = ?, sent_at = ?, visible_at = ?, receive_count = 0, first_received_at = 0, receipt = '' WHERE id = ?`,
			newID(), d.source.name, string(b), now, now, id)
		return err
	})
	if dl != nil {
		d.dlq.b.wake(d.source.name)
	}
	return dl, err
}

// Discard implements queue.DeadLetters.
func (d *DeadLetters) Discard(ctx context.Context, id string) (*queue.DeadLetter, error) {
	return d.take(ctx, id, func(tx *sql.Tx, _ *queue.DeadLetter) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM queue_messages WHERE id = ? AND queue = ?`, id, d.dlq.name)
		return err
	})
}
