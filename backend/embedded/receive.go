package embedded

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/cutover-dev/cutover"
)

// Receive returns up to opt.Max visible messages, hiding them for
// opt.Visibility (default 30s). With opt.Wait it long-polls: it wakes when
// this process sends to the queue, and polls for other processes' sends.
func (db *DB) Receive(ctx context.Context, queue string, opt cutover.ReceiveOptions) ([]cutover.Message, error) {
	max, vis := opt.Max, opt.Visibility
	if max == 0 {
		max = 1
	}
	if vis == 0 {
		vis = DefaultVisibility
	}
	switch {
	case max < 0 || max > MaxReceiveMax:
		return nil, fmt.Errorf("embedded: receive %s: Max %d is out of range (1 to %d)", queue, opt.Max, MaxReceiveMax)
	case vis < 0 || vis > MaxVisibility:
		return nil, fmt.Errorf("embedded: receive %s: Visibility %v is out of range (0 to %v)", queue, opt.Visibility, MaxVisibility)
	}
	deadline := time.Now().Add(opt.Wait)
	for {
		woken := db.wake.wait(queue)
		msgs, err := db.receiveOnce(ctx, queue, max, vis)
		if err != nil || len(msgs) > 0 {
			return msgs, err
		}
		if ok, err := db.waitVisible(ctx, queue, woken, deadline); !ok || err != nil {
			return nil, err
		}
	}
}

// waitVisible sleeps until a message may be visible in queue (a wakeup, or a
// poll that finds one) and reports true, or until deadline and reports
// false.
func (db *DB) waitVisible(ctx context.Context, queue string, woken <-chan struct{}, deadline time.Time) (bool, error) {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		t := time.NewTimer(min(left, db.opts.PollInterval))
		select {
		case <-woken:
			t.Stop()
			return true, nil
		case <-ctx.Done():
			t.Stop()
			return false, fmt.Errorf("embedded: receive %s: %w", queue, ctx.Err())
		case <-db.closing:
			t.Stop()
			return false, fmt.Errorf("embedded: receive %s: %w", queue, ErrClosed)
		case <-t.C:
		}
		// A read, not a write: idle pollers stay off the writer. An
		// envelope waiting may hold messages for this queue.
		var one int
		ok, err := db.readRow(ctx, `SELECT 1 FROM messages WHERE queue = ?1 AND visible_at <= ?2
			UNION ALL SELECT 1 FROM intake WHERE queue = ?1 AND error IS NULL LIMIT 1`,
			[]any{queue, time.Now().UnixNano()}, &one)
		if err != nil {
			return false, fmt.Errorf("embedded: receive %s: %w", queue, err)
		}
		if ok {
			return true, nil
		}
	}
}

// receiveSQL hides up to n visible messages and returns them. n is part of
// the text, not a parameter: SQLite plans a LIMIT from its bound value, so a
// bound LIMIT would recompile the statement every time its value changed.
func receiveSQL(n int) string {
	return `UPDATE OR FAIL messages SET visible_at = ?1, receive_count = receive_count + 1, receipt = random()
	WHERE seq IN (SELECT seq FROM messages WHERE queue = ?2 AND visible_at <= ?3 ORDER BY visible_at LIMIT ` + strconv.Itoa(n) + `)
	RETURNING seq, id, body, attrs, sent_at, receive_count, receipt`
}

// redriveSQL moves one message to the dead-letter queue, where it starts
// over, visible at once.
const redriveSQL = `UPDATE OR FAIL messages SET queue = ?1, visible_at = ?2, receive_count = 0, receipt = 0 WHERE seq = ?3`

// received is a delivery as the writer hands it out; the caller decodes the
// attributes, off the writer's goroutine.
type received struct {
	seq   int64
	m     cutover.Message
	attrs []byte
}

func (db *DB) receiveOnce(ctx context.Context, queue string, max int, vis time.Duration) ([]cutover.Message, error) {
	gots, err := write(ctx, db, func(x *wtx) ([]received, error) {
		spec, ok, err := x.spec(queue)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, noQueue(queue)
		}
		// The queue's envelopes taken in become messages first, about
		// expandEvents per receive; the next receives take the rest.
		if _, _, err = x.expandIntake(queue, 0); err != nil {
			return nil, err
		}
		redrive := spec.deadLetter != "" && spec.maxReceive > 0
		now := x.now.UnixNano()
		var gots []received
		// Messages received max_receive times already go to the
		// dead-letter queue instead, and the receive takes the next ones.
		// Receiving first and moving the few that went over costs one
		// statement in the common case, where none did.
		for len(gots) < max {
			var over []int64
			err := x.query(receiveSQL(max-len(gots)), []any{now + int64(vis), queue, now}, func(vals []driver.Value) error {
				var g received
				var sent, receipt int64
				if err := scan(vals, &g.seq, &g.m.ID, &g.m.Body, &g.attrs, &sent, &g.m.ReceiveCount, &receipt); err != nil {
					return err
				}
				if redrive && g.m.ReceiveCount > spec.maxReceive {
					over = append(over, g.seq)
					return nil
				}
				g.m.SentAt = fromNanos(sent)
				g.m.Receipt = formatReceipt(g.seq, receipt)
				gots = append(gots, g)
				return nil
			})
			if err != nil {
				return nil, err
			}
			if len(over) == 0 {
				break
			}
			for _, seq := range over {
				if _, err := x.exec(redriveSQL, spec.deadLetter, now, seq); err != nil {
					return nil, err
				}
			}
		}
		return gots, nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: receive %s: %w", queue, err)
	}
	// RETURNING yields rows in no set order; hand them out as sent.
	sort.Slice(gots, func(i, j int) bool { return gots[i].seq < gots[j].seq })
	msgs := make([]cutover.Message, len(gots))
	for i, g := range gots {
		msgs[i] = g.m
		if len(g.attrs) > 0 {
			if err := json.Unmarshal(g.attrs, &msgs[i].Attributes); err != nil {
				return nil, fmt.Errorf("embedded: receive %s: message %s: attributes: %w", queue, g.m.ID, err)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: receive %s: %w", queue, err)
	}
	return msgs, nil
}
