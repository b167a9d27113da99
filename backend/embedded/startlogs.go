package embedded

import (
	"context"
	"errors"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// StartLogs implements cutover.LogStarter: one write for the first entries
// of many events, as the publisher needs for every batch it publishes.
func (db *DB) StartLogs(ctx context.Context, first []cutover.LogStart) error {
	if len(first) == 0 {
		return nil
	}
	for _, f := range first {
		if f.EventID == "" {
			return errors.New("embedded: start logs: event id is empty")
		}
	}
	_, err := write(ctx, db, func(x *wtx) (struct{}, error) {
		return struct{}{}, x.startLogs(first)
	})
	if err != nil {
		return fmt.Errorf("embedded: start logs of %d events: %w", len(first), err)
	}
	return nil
}

// startLogs inserts each entry as entry 1 of its event's log, leaving a
// log that has one as it is.
func (x *wtx) startLogs(first []cutover.LogStart) error {
	for start := 0; start < len(first); start += transitionChunk {
		chunk := first[start:min(start+transitionChunk, len(first))]
		args := make([]any, 0, 9*len(chunk))
		for _, f := range chunk {
			args = append(args, transitionArgs(f.EventID, 1, f.Transition, x.now)...)
		}
		q := x.w.multiRow(`INSERT OR FAIL INTO transitions (event_id, seq, kind, at, attempt, epoch, delay, detail, worker) VALUES `, 9, len(chunk), ` ON CONFLICT DO NOTHING`)
		if _, err := x.exec(q, args...); err != nil {
			return err
		}
	}
	return nil
}
