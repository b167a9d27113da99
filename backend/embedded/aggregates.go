package embedded

import (
	"encoding/json"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// Aggregates are read-modify-written by every SaveComparison. Decoding and
// encoding the JSON for each comparison would cost more than the rest of
// the op, so the writer keeps two levels of decoded aggregates:
//
//   - per transaction (wtx.aggs): every comparison of a batch folds into
//     one decoded aggregate, written once just before commit;
//   - across transactions (writer.aggs): the decoded aggregate of the last
//     commit with its row version. It is used only while the row still has
//     that version, so another process's write is never missed.

type aggKey struct {
	workflow string
	epoch    int
	minute   int64
}

type aggEntry struct {
	agg     *cutover.Aggregate
	version int64 // the row's version when read; 0: no row yet
	dirty   bool
}

// aggCache is the writer's cross-transaction cache. It is cleared on every
// rollback, since entries may hold changes that were not committed.
type aggCache map[aggKey]*aggEntry

const maxCachedAggs = 256

func (c aggCache) reset() { clear(c) }

// committed keeps the aggregates x wrote, at their new versions.
func (c aggCache) committed(x *wtx) {
	if len(x.aggs) == 0 {
		return
	}
	if len(c)+len(x.aggs) > maxCachedAggs {
		clear(c)
	}
	for k, e := range x.aggs {
		c[k] = &aggEntry{agg: e.agg, version: e.version}
	}
}

// aggregate returns the aggregate of k for changing in this transaction.
func (x *wtx) aggregate(k aggKey) (*aggEntry, error) {
	if e, ok := x.aggs[k]; ok {
		return e, nil
	}
	var version int64
	if _, err := x.queryRow(`SELECT version FROM aggregates WHERE workflow = ? AND epoch = ? AND minute = ?`,
		[]any{k.workflow, k.epoch, k.minute}, &version); err != nil {
		return nil, err
	}
	e := &aggEntry{version: version}
	switch cached, ok := x.w.aggs[k]; {
	case version == 0:
		e.agg = cutover.NewAggregate(k.workflow, k.epoch, fromNanos(k.minute))
	case ok && cached.version == version:
		// The cached copy may be changed in place: a rollback clears the
		// cache.
		e.agg = cached.agg
	default:
		var data []byte
		if _, err := x.queryRow(`SELECT data FROM aggregates WHERE workflow = ? AND epoch = ? AND minute = ?`,
			[]any{k.workflow, k.epoch, k.minute}, &data); err != nil {
			return nil, err
		}
		e.agg = new(cutover.Aggregate)
		if err := json.Unmarshal(data, e.agg); err != nil {
			return nil, fmt.Errorf("aggregate %s/%d/%s: %w", k.workflow, k.epoch, fromNanos(k.minute), err)
		}
	}
	if x.aggs == nil {
		x.aggs = map[aggKey]*aggEntry{}
	}
	x.aggs[k] = e
	return e, nil
}

// flush writes the aggregates changed in x; the writer calls it before
// commit.
func (x *wtx) flush() error {
	for k, e := range x.aggs {
		if !e.dirty {
			continue
		}
		data, err := marshal(e.agg)
		if err != nil {
			return fmt.Errorf("aggregate %s/%d: %w", k.workflow, k.epoch, err)
		}
		if e.version == 0 {
			_, err = x.exec(`INSERT INTO aggregates (workflow, epoch, minute, version, data) VALUES (?, ?, ?, 1, ?)`,
				k.workflow, k.epoch, k.minute, data)
		} else {
			_, err = x.exec(`UPDATE aggregates SET version = version + 1, data = ? WHERE workflow = ? AND epoch = ? AND minute = ?`,
				data, k.workflow, k.epoch, k.minute)
		}
		if err != nil {
			return fmt.Errorf("aggregate %s/%d: %w", k.workflow, k.epoch, err)
		}
		e.version++
		e.dirty = false
	}
	return nil
}
