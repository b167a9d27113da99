package embedded

import (
	"context"
	"fmt"

	"github.com/cutover-dev/cutover"
)

var _ cutover.Registrar = (*DB)(nil)

// Register implements cutover.Registrar: a batch's archived copies, first
// log entries and legacy sides in one op of the group commit, where
// Archive, StartLogs and a PutOutcome per event take two ops plus one per
// event. Everything is encoded in the caller's goroutine; the writer only
// runs the statements.
func (db *DB) Register(ctx context.Context, regs []cutover.Registration) ([]cutover.OutcomePair, error) {
	if len(regs) == 0 {
		return nil, nil
	}
	events := make([]any, 0, 6*len(regs))
	var logs []cutover.Registration
	type legacySide struct {
		id, workflow string
		epoch        int
		data         []byte
	}
	var sides []legacySide
	for _, r := range regs {
		e := r.Event
		if e == nil {
			return nil, fmt.Errorf("embedded: register: nil event")
		}
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("embedded: register %s: %w", e.ID, err)
		}
		c := *e
		c.ReceivedAt = c.ReceivedAt.UTC()
		data := r.Encoded
		if data == nil {
			var err error
			if data, err = cutover.EncodeEvent(&c); err != nil {
				return nil, fmt.Errorf("embedded: register %s: %w", e.ID, err)
			}
		}
		events = append(events, c.ID, c.Workflow, c.Step, c.CorrelationID, c.ReceivedAt.UnixNano(), data)
		if r.First.Kind != "" {
			logs = append(logs, r)
		}
		if r.Legacy != nil {
			out, err := marshal(normOutcome(r.Legacy))
			if err != nil {
				return nil, fmt.Errorf("embedded: register %s: legacy outcome: %w", e.ID, err)
			}
			sides = append(sides, legacySide{id: c.ID, workflow: c.Workflow, epoch: c.ReplayEpoch, data: out})
		}
	}
	pairs, err := write(ctx, db, func(x *wtx) ([]pairRow, error) {
		n := len(regs)
		for start := 0; start < n; start += archiveChunk {
			k := min(archiveChunk, n-start)
			q := x.w.multiRow(`INSERT OR FAIL INTO events (id, workflow, step, correlation_id, received_at, data) VALUES `, 6, k,
				` ON CONFLICT (id) DO NOTHING`)
			if _, err := x.exec(q, events[6*start:6*(start+k)]...); err != nil {
				return nil, err
			}
		}
		for start := 0; start < len(logs); start += transitionChunk {
			chunk := logs[start:min(start+transitionChunk, len(logs))]
			args := make([]any, 0, 9*len(chunk))
			for _, r := range chunk {
				args = append(args, transitionArgs(r.Event.ID, 1, r.First, x.now)...)
			}
			q := x.w.multiRow(`INSERT OR FAIL INTO transitions (event_id, seq, kind, at, attempt, epoch, delay, detail, worker) VALUES `, 9, len(chunk), ` ON CONFLICT DO NOTHING`)
			if _, err := x.exec(q, args...); err != nil {
				return nil, err
			}
		}
		// Each legacy side starts a new pair: one multi-row insert. If some
		// pair was there (a publish retried after the event ran), each side
		// then completes its pair unless the pair has a legacy side already
		// (the rows just inserted have one, so the update skips them).
		var done []pairRow
		for start := 0; start < len(sides); start += archiveChunk {
			chunk := sides[start:min(start+archiveChunk, len(sides))]
			args := make([]any, 0, 7*len(chunk))
			for _, s := range chunk {
				args = append(args, s.id, s.epoch, s.workflow, s.data, nil, x.now.UnixNano(), 0)
			}
			q := x.w.multiRow(`INSERT OR FAIL INTO outcomes (event_id, epoch, workflow, legacy, async, created_at, complete) VALUES `, 7, len(chunk),
				` ON CONFLICT (event_id, epoch) DO NOTHING`)
			n, err := x.exec(q, args...)
			if err != nil {
				return nil, err
			}
			if int(n) == len(chunk) {
				continue
			}
			for _, s := range chunk {
				r := pairRow{eventID: s.id, epoch: s.epoch, legacy: s.data}
				ok, err := x.queryRow(`UPDATE OR FAIL outcomes SET legacy = ?, complete = 1 WHERE event_id = ? AND epoch = ? AND legacy IS NULL
					RETURNING workflow, async, created_at`,
					[]any{s.data, s.id, s.epoch}, &r.workflow, &r.async, &r.createdAt)
				if err != nil {
					return nil, err
				}
				if ok {
					done = append(done, r)
				}
			}
		}
		return done, nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: register %d events: %w", len(regs), err)
	}
	out := make([]cutover.OutcomePair, 0, len(pairs))
	for _, r := range pairs {
		p, err := r.decode()
		if err != nil {
			return nil, fmt.Errorf("embedded: register: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
