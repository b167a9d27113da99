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
	events := make([]any, 0, eventCols*len(regs))
	var logs []cutover.LogStart
	var sides []legacySide
	for _, r := range regs {
		row, err := eventRow(r.Event, r.Encoded)
		if err != nil {
			return nil, fmt.Errorf("embedded: register: %w", err)
		}
		events = append(events, row...)
		e := r.Event
		if r.First.Kind != "" {
			logs = append(logs, cutover.LogStart{EventID: e.ID, Transition: r.First})
		}
		if r.Legacy != nil {
			out, err := encodeOutcome(r.Legacy)
			if err != nil {
				return nil, fmt.Errorf("embedded: register %s: legacy outcome: %w", e.ID, err)
			}
			sides = append(sides, legacySide{id: e.ID, workflow: e.Workflow, epoch: e.ReplayEpoch, data: out})
		}
	}
	pairs, err := write(ctx, db, func(x *wtx) ([]pairRow, error) {
		if err := x.insertEvents(events); err != nil {
			return nil, err
		}
		if err := x.startLogs(logs); err != nil {
			return nil, err
		}
		return x.insertLegacySides(sides, x.now.UnixNano(), true)
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

// legacySide is a legacy outcome, encoded, that starts its event's pair.
type legacySide struct {
	id, workflow string
	epoch        int
	data         []byte
}

// insertLegacySides records each side as the start of a new pair, created
// at createdAt (Unix nanoseconds). With complete, a side whose pair is
// there already completes it unless it has a legacy side, and the pairs
// completed are returned; without, it is left as it is.
func (x *wtx) insertLegacySides(sides []legacySide, createdAt int64, complete bool) ([]pairRow, error) {
	// Each legacy side starts a new pair: one multi-row insert. If some
	// pair was there (a publish retried after the event ran), each side
	// then completes its pair unless the pair has a legacy side already
	// (the rows just inserted have one, so the update skips them).
	var done []pairRow
	for start := 0; start < len(sides); start += archiveChunk {
		chunk := sides[start:min(start+archiveChunk, len(sides))]
		args := make([]any, 0, 7*len(chunk))
		for _, s := range chunk {
			args = append(args, s.id, s.epoch, s.workflow, s.data, nil, createdAt, 0)
		}
		q := x.w.multiRow(`INSERT OR FAIL INTO outcomes (event_id, epoch, workflow, legacy, async, created_at, complete) VALUES `, 7, len(chunk),
			` ON CONFLICT (event_id, epoch) DO NOTHING`)
		n, err := x.exec(q, args...)
		if err != nil {
			return nil, err
		}
		if int(n) == len(chunk) || !complete {
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
}
