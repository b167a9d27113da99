package embedded

import (
	"cmp"
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/cutover-dev/cutover"
)

// Intake takes a published batch for one queue in a single row: the
// events' archive rows, first log entries and legacy sides, and their
// messages, in one envelope. That row is the whole cost to the publisher
// (the proxy, on the primary's machine). It is expanded into the rows
// Register and Send would have written by whoever next needs them: a
// receive on the queue (about expandEvents events per receive), a read of
// the archive, a log or a pair, or the sweep's list of unpaired pairs;
// queue stats count the messages in envelopes as they are. Expansion keeps
// the intake's times (the log's received entry, the pair's start, the
// message's sent time), so after it nothing tells the two paths apart.
//
// Nothing an expansion writes can have been written before by another
// path, since an event's message does not exist until its envelope is
// expanded: its legacy side always starts the pair. Unlike Send, a message
// with a delay out of range refuses the whole batch.
func (db *DB) Intake(ctx context.Context, queue string, regs []cutover.Registration, msgs []cutover.OutgoingMessage) error {
	if len(regs) == 0 && len(msgs) == 0 {
		return nil
	}
	env := envelope{queue: queue, events: make([]envEvent, 0, len(regs)), msgs: make([]envMessage, 0, len(msgs))}
	byID := make(map[string]int, len(regs))
	for _, r := range regs {
		e := r.Event
		if e == nil {
			return fmt.Errorf("embedded: intake: nil event")
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("embedded: intake: %s: %w", e.ID, err)
		}
		data := r.Encoded
		if data == nil || e.ReceivedAt.Location() != time.UTC {
			c := *e
			c.ReceivedAt = c.ReceivedAt.UTC()
			var err error
			if data, err = cutover.EncodeEvent(&c); err != nil {
				return fmt.Errorf("embedded: intake: %w", err)
			}
		}
		ev := envEvent{id: e.ID, workflow: e.Workflow, step: e.Step, correlation: e.CorrelationID,
			receivedAt: e.ReceivedAt.UnixNano(), data: data, epoch: e.ReplayEpoch}
		if r.First.Kind != "" {
			t := r.First
			ev.first = &t
		}
		if r.Legacy != nil {
			var err error
			if ev.legacy, err = encodeOutcome(r.Legacy); err != nil {
				return fmt.Errorf("embedded: intake %s: legacy outcome: %w", ev.id, err)
			}
		}
		env.events = append(env.events, ev)
		byID[ev.id] = len(env.events)
	}
	for _, m := range msgs {
		if m.Delay < 0 || m.Delay > MaxDelay {
			return fmt.Errorf("embedded: intake %s: message %s: delay %v is out of range (0 to %v)", queue, m.ID, m.Delay, MaxDelay)
		}
		em := envMessage{row: outRow{id: m.ID, body: m.Body, delay: int64(m.Delay)}}
		if em.row.id == "" {
			em.row.id = cutover.NewEventID()
		}
		if i := byID[m.ID]; i > 0 && sameBytes(m.Body, env.events[i-1].data) {
			em.event = i
		}
		if len(m.Attributes) > 0 {
			b, err := json.Marshal(m.Attributes)
			if err != nil {
				return fmt.Errorf("embedded: intake %s: attributes: %w", queue, err)
			}
			em.row.attrs = b
		}
		env.msgs = append(env.msgs, em)
	}
	data := env.encode()
	_, err := write(ctx, db, func(x *wtx) (struct{}, error) {
		if err := x.requireQueue(queue); err != nil {
			return struct{}{}, err
		}
		_, err := x.exec(`INSERT OR FAIL INTO intake (queue, created_at, events, data) VALUES (?, ?, ?, ?)`, queue, x.now.UnixNano(), len(env.msgs), data)
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("embedded: intake %d events to %s: %w", len(regs), queue, err)
	}
	db.wake.notify(queue)
	return nil
}

// sameBytes reports whether a and b are the same bytes; the publisher hands
// in one slice for an event's archive copy and its message.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return string(a) == string(b)
}

// expandEvents bounds the events one op expands (at least one envelope),
// so that one op stays short; settle and receive go on while there are more.
const expandEvents = 512

// expandIntake expands the envelopes of queue (""; every queue's) created
// before `before` (Unix nanoseconds; 0: any), oldest first, in the op's
// transaction, up to expandEvents events, and reports the queues they fed
// and whether more are waiting. An envelope that does not decode (it never
// should) is marked with its error and kept, not lost and not retried.
func (x *wtx) expandIntake(queue string, before int64) (queues []string, more bool, err error) {
	if before == 0 {
		before = math.MaxInt64
	}
	type row struct{ seq, events int64 }
	var rows []row
	total := int64(0)
	err = x.query(`SELECT seq, events FROM intake WHERE error IS NULL AND created_at < ?1 AND (?2 = '' OR queue = ?2)
		ORDER BY seq LIMIT 64`, []any{before, queue},
		func(vals []driver.Value) error {
			var r row
			if err := scan(vals, &r.seq, &r.events); err != nil {
				return err
			}
			if len(rows) > 0 && total+r.events > expandEvents {
				more = true
				return nil
			}
			total += r.events
			rows = append(rows, r)
			return nil
		})
	if err != nil || len(rows) == 0 {
		return nil, false, err
	}
	more = more || len(rows) == 64
	for _, r := range rows {
		var createdAt int64
		var data []byte
		if _, err := x.queryRow(`SELECT created_at, data FROM intake WHERE seq = ?`, []any{r.seq}, &createdAt, &data); err != nil {
			return nil, false, err
		}
		env, derr := decodeEnvelope(data)
		if derr != nil {
			if _, err := x.exec(`UPDATE OR FAIL intake SET error = ? WHERE seq = ?`, derr.Error(), r.seq); err != nil {
				return nil, false, err
			}
			continue
		}
		if err := x.expand(env, createdAt); err != nil {
			return nil, false, err
		}
		if _, err := x.exec(`DELETE FROM intake WHERE seq = ?`, r.seq); err != nil {
			return nil, false, err
		}
		queues = append(queues, env.queue)
	}
	return queues, more, nil
}

// expand writes one envelope's rows as Register and Send would have at
// createdAt.
func (x *wtx) expand(env *envelope, createdAt int64) error {
	events := make([]any, 0, eventCols*len(env.events))
	var logs []cutover.LogStart
	var sides []legacySide
	for _, ev := range env.events {
		events = append(events, ev.id, ev.workflow, ev.step, ev.correlation, ev.receivedAt, ev.data)
		if ev.first != nil {
			logs = append(logs, cutover.LogStart{EventID: ev.id, Transition: *ev.first})
		}
		if ev.legacy != nil {
			sides = append(sides, legacySide{id: ev.id, workflow: ev.workflow, epoch: ev.epoch, data: ev.legacy})
		}
	}
	if err := x.insertEvents(events); err != nil {
		return err
	}
	if err := x.startLogs(logs); err != nil {
		return err
	}
	// A pair there already is one an earlier envelope of the same
	// events (a retried publish) started: it has this legacy side. It
	// cannot have an async side, since the event's message did not exist
	// before its first envelope was expanded; so nothing is completed
	// here that would need comparing.
	if _, err := x.insertLegacySides(sides, createdAt, false); err != nil {
		return err
	}
	rows := make([]outRow, len(env.msgs))
	for i, m := range env.msgs {
		rows[i] = m.row
	}
	return x.insertMessages(env.queue, rows, createdAt)
}

// settle expands every envelope waiting that was created before `before`
// (the zero time: any), for reads that must see what was taken in. A read
// finds out first whether there is any: usually there is none, and that
// costs no write.
func (db *DB) settle(ctx context.Context, before time.Time) error {
	b := int64(0)
	if !before.IsZero() {
		b = before.UnixNano()
	}
	for {
		var one int
		ok, err := db.readRow(ctx, `SELECT 1 FROM intake WHERE error IS NULL AND created_at < ? LIMIT 1`, []any{cmp.Or(b, math.MaxInt64)}, &one)
		if err != nil || !ok {
			return err
		}
		type result struct {
			queues []string
			more   bool
		}
		res, err := write(ctx, db, func(x *wtx) (result, error) {
			queues, more, err := x.expandIntake("", b)
			return result{queues, more}, err
		})
		if err != nil {
			return fmt.Errorf("expand intake: %w", err)
		}
		for _, q := range res.queues {
			db.wake.notify(q)
		}
		if !res.more {
			return nil
		}
	}
}
