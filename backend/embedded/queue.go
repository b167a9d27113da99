package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover"
)

// Limits shared with SQS, so that what works here works on the aws backend.
const (
	MaxReceiveMax     = 10
	MaxDelay          = 15 * time.Minute
	MaxVisibility     = 12 * time.Hour
	DefaultVisibility = 30 * time.Second
	sendChunk         = 32 // rows per multi-row INSERT
)

type queueSpec struct {
	deadLetter string
	maxReceive int
}

// spec reads a queue's spec in the write transaction, once per transaction
// (the receives of a batch share it; EnsureQueue forgets it).
func (x *wtx) spec(queue string) (queueSpec, bool, error) {
	if s, ok := x.specs[queue]; ok {
		return s, true, nil
	}
	var s queueSpec
	ok, err := x.queryRow(`SELECT dead_letter, max_receive FROM queues WHERE name = ?`, []any{queue}, &s.deadLetter, &s.maxReceive)
	if ok && err == nil {
		if x.specs == nil {
			x.specs = map[string]queueSpec{}
		}
		x.specs[queue] = s
	}
	return s, ok, err
}

// queueExists reports whether queue was ensured. Queues are never deleted,
// so the writer remembers the ones it has seen (forgetting them on
// rollback, which may undo an EnsureQueue).
func (x *wtx) queueExists(queue string) (bool, error) {
	if x.w.queues[queue] {
		return true, nil
	}
	var one int
	ok, err := x.queryRow(`SELECT 1 FROM queues WHERE name = ?`, []any{queue}, &one)
	if ok {
		x.w.queues[queue] = true
	}
	return ok, err
}

// requireQueue refuses the op if queue was never ensured.
func (x *wtx) requireQueue(queue string) error {
	ok, err := x.queueExists(queue)
	if err == nil && !ok {
		err = noQueue(queue)
	}
	return err
}

func noQueue(queue string) error {
	return refuse(fmt.Errorf("queue %q: %w", queue, cutover.ErrNotFound))
}

// EnsureQueue creates the queue, or updates its redrive policy. A dead-letter
// queue that does not exist yet is created too.
func (db *DB) EnsureQueue(ctx context.Context, spec cutover.QueueSpec) error {
	switch {
	case spec.Name == "":
		return errors.New("embedded: ensure queue: name is empty")
	case spec.DeadLetter == spec.Name:
		return fmt.Errorf("embedded: ensure queue %s: it cannot be its own dead-letter queue", spec.Name)
	case spec.DeadLetter != "" && spec.MaxReceiveCount < 1:
		return fmt.Errorf("embedded: ensure queue %s: MaxReceiveCount %d must be at least 1 with a dead-letter queue", spec.Name, spec.MaxReceiveCount)
	case spec.MaxReceiveCount < 0:
		return fmt.Errorf("embedded: ensure queue %s: MaxReceiveCount %d is negative", spec.Name, spec.MaxReceiveCount)
	}
	_, err := write(ctx, db, func(x *wtx) (struct{}, error) {
		clear(x.specs)
		now := x.now.UnixNano()
		if spec.DeadLetter != "" {
			if _, err := x.exec(`INSERT INTO queues (name, dead_letter, max_receive, created_at) VALUES (?, '', 0, ?)
				ON CONFLICT (name) DO NOTHING`, spec.DeadLetter, now); err != nil {
				return struct{}{}, err
			}
		}
		_, err := x.exec(`INSERT INTO queues (name, dead_letter, max_receive, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET dead_letter = excluded.dead_letter, max_receive = excluded.max_receive`,
			spec.Name, spec.DeadLetter, spec.MaxReceiveCount, now)
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("embedded: ensure queue %s: %w", spec.Name, err)
	}
	return nil
}

type outRow struct {
	id    string
	body  []byte
	attrs []byte
	delay int64
}

// Send enqueues msgs in one transaction. Entries with an invalid delay are
// reported in a *cutover.BatchError; the others are sent.
func (db *DB) Send(ctx context.Context, queue string, msgs []cutover.OutgoingMessage) error {
	var failed map[string]error
	rows := make([]outRow, 0, len(msgs))
	for _, m := range msgs {
		if m.Delay < 0 || m.Delay > MaxDelay {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[m.ID] = fmt.Errorf("delay %v is out of range (0 to %v)", m.Delay, MaxDelay)
			continue
		}
		r := outRow{id: m.ID, body: m.Body, delay: int64(m.Delay)}
		if r.id == "" {
			r.id = cutover.NewEventID()
		}
		if r.body == nil {
			r.body = []byte{}
		}
		if len(m.Attributes) > 0 {
			b, err := json.Marshal(m.Attributes)
			if err != nil {
				return fmt.Errorf("embedded: send %s: attributes: %w", queue, err)
			}
			r.attrs = b
		}
		rows = append(rows, r)
	}
	if len(rows) > 0 {
		_, err := write(ctx, db, func(x *wtx) (struct{}, error) {
			if err := x.requireQueue(queue); err != nil {
				return struct{}{}, err
			}
			return struct{}{}, x.insertMessages(queue, rows, x.now.UnixNano())
		})
		if err != nil {
			return fmt.Errorf("embedded: send %s: %w", queue, err)
		}
		db.wake.notify(queue)
	}
	if failed != nil {
		return fmt.Errorf("embedded: send %s: %w", queue, &cutover.BatchError{Failed: failed})
	}
	return nil
}

// insertMessages enqueues rows on queue as sent at sentAt (Unix nanoseconds).
func (x *wtx) insertMessages(queue string, rows []outRow, sentAt int64) error {
	for start := 0; start < len(rows); start += sendChunk {
		chunk := rows[start:min(start+sendChunk, len(rows))]
		args := make([]any, 0, 6*len(chunk))
		for _, r := range chunk {
			args = append(args, queue, r.id, r.body, r.attrs, sentAt, sentAt+r.delay)
		}
		if _, err := x.exec(x.w.multiRow(`INSERT OR FAIL INTO messages (queue, id, body, attrs, sent_at, visible_at) VALUES `, 6, len(chunk), ""), args...); err != nil {
			return err
		}
	}
	return nil
}

// Delete acknowledges deliveries. A receipt whose delivery is gone (deleted,
// or received again since) is ignored, as SQS does.
func (db *DB) Delete(ctx context.Context, queue string, receipts []string) error {
	if len(receipts) == 0 {
		return nil
	}
	keys := make([]receiptKey, len(receipts))
	for i, r := range receipts {
		seq, token, err := parseReceipt(r)
		if err != nil {
			return fmt.Errorf("embedded: delete %s: %w", queue, err)
		}
		keys[i] = receiptKey{seq, token}
	}
	_, err := write(ctx, db, func(x *wtx) (struct{}, error) {
		if err := x.requireQueue(queue); err != nil {
			return struct{}{}, err
		}
		for len(keys) > 0 {
			n := deleteRun(keys, deleteChunk)
			args := make([]any, 0, 1+3*n)
			args = append(args, queue)
			for _, k := range keys[:n] {
				args = append(args, k.seq)
			}
			for _, k := range keys[:n] {
				args = append(args, k.seq, k.token)
			}
			if _, err := x.exec(x.w.deleteSQL(n), args...); err != nil {
				return struct{}{}, err
			}
			keys = keys[n:]
		}
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("embedded: delete %s: %w", queue, err)
	}
	return nil
}

// ChangeVisibility hides an in-flight delivery for timeout from now; 0
// makes it visible at once. ErrStaleReceipt if the delivery is not in
// flight any more.
func (db *DB) ChangeVisibility(ctx context.Context, queue, receipt string, timeout time.Duration) error {
	if timeout < 0 || timeout > MaxVisibility {
		return fmt.Errorf("embedded: change visibility %s: timeout %v is out of range (0 to %v)", queue, timeout, MaxVisibility)
	}
	seq, token, err := parseReceipt(receipt)
	if err != nil {
		return fmt.Errorf("embedded: change visibility %s: %w", queue, err)
	}
	_, err = write(ctx, db, func(x *wtx) (struct{}, error) {
		if err := x.requireQueue(queue); err != nil {
			return struct{}{}, err
		}
		now := x.now.UnixNano()
		n, err := x.exec(`UPDATE messages SET visible_at = ? WHERE seq = ? AND receipt = ? AND queue = ? AND visible_at > ?`,
			now+int64(timeout), seq, token, queue, now)
		if err != nil {
			return struct{}{}, err
		}
		if n == 0 {
			return struct{}{}, refuse(cutover.ErrStaleReceipt)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("embedded: change visibility %s: %w", queue, err)
	}
	if timeout == 0 {
		db.wake.notify(queue)
	}
	return nil
}

// QueueStats counts visible, in-flight (received, hidden) and delayed (never
// received, hidden) messages, and the age of the oldest.
func (db *DB) QueueStats(ctx context.Context, queue string) (cutover.QueueStats, error) {
	var one int
	ok, err := db.readRow(ctx, `SELECT 1 FROM queues WHERE name = ?`, []any{queue}, &one)
	if err != nil {
		return cutover.QueueStats{}, fmt.Errorf("embedded: queue stats %s: %w", queue, err)
	}
	if !ok {
		return cutover.QueueStats{}, fmt.Errorf("embedded: queue stats %s: %w", queue, cutover.ErrNotFound)
	}
	now := time.Now()
	var st cutover.QueueStats
	var oldest sql.NullInt64
	_, err = db.readRow(ctx, `SELECT
			COALESCE(SUM(visible_at <= ?1), 0),
			COALESCE(SUM(visible_at > ?1 AND receive_count > 0), 0),
			COALESCE(SUM(visible_at > ?1 AND receive_count = 0), 0),
			MIN(sent_at)
		FROM messages WHERE queue = ?2`, []any{now.UnixNano(), queue},
		&st.Visible, &st.InFlight, &st.Delayed, &oldest)
	if err != nil {
		return cutover.QueueStats{}, fmt.Errorf("embedded: queue stats %s: %w", queue, err)
	}
	// Messages still in envelopes (Intake) are visible: a receive expands
	// them first. Envelopes that failed to expand stay out of the count.
	var waiting int64
	var oldestIn sql.NullInt64
	if _, err := db.readRow(ctx, `SELECT COALESCE(SUM(events), 0), MIN(created_at) FROM intake WHERE queue = ? AND error IS NULL`,
		[]any{queue}, &waiting, &oldestIn); err != nil {
		return cutover.QueueStats{}, fmt.Errorf("embedded: queue stats %s: %w", queue, err)
	}
	st.Visible += waiting
	if oldestIn.Valid && (!oldest.Valid || oldestIn.Int64 < oldest.Int64) {
		oldest = oldestIn
	}
	if oldest.Valid {
		st.OldestAge = max(now.Sub(fromNanos(oldest.Int64)), 0)
	}
	return st, nil
}
