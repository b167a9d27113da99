package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cutover-dev/cutover"
)

// Deferred events (Archive.ArchiveDeferred) have no pair in the table until
// they finish: their legacy sides are lines of their archive objects. The
// sweep below reads the objects that hold legacy sides, in the order they
// were written, and for every event that has no async side by the cutoff
// writes the legacy side to the table (with the time it was archived as the
// pair's start) and lists the pair; a worker that finishes the event after
// that completes the pair as usual. A process remembers which objects are
// settled (sweepState), so each object is read about once per process, and
// the processes share how far every object is settled (one item, written
// at most once a minute).

// sweepState is the deferred sweep's progress in this process.
type sweepState struct {
	mu        sync.Mutex
	cursor    int64            // objects written before this (Unix ns) are settled
	settled   map[string]int64 // objects at or after cursor known settled, by key
	persisted int64            // the cursor as last written to the table
}

// The cursor is shared through one item (pk SW, sk deferred, cur), written
// at most once per cursorEvery as it moves, so that a process that starts
// reads on from where the others got instead of the whole retention window.
const (
	pkSweep     = "SW"
	skSweep     = "deferred"
	attrCursor  = "cur"
	cursorEvery = time.Minute
)

// indexLag bounds how long after an object is written (its ac) its index
// item can appear: the archive's flush timeout, with room to spare. The
// cursor stays that far behind, and settled objects in between are
// remembered rather than read again.
const indexLag = 5 * time.Minute

// unpairedDeferred lists the one-sided pairs of deferred events archived
// before `before`, up to limit, oldest first.
func (t *Table) unpairedDeferred(ctx context.Context, before time.Time, limit int) ([]cutover.OutcomePair, error) {
	sw := &t.sweep
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.settled == nil {
		it, err := t.get(ctx, pkSweep, skSweep)
		if err != nil {
			return nil, fmt.Errorf("sweep cursor: %w", err)
		}
		sw.settled = map[string]int64{}
		sw.cursor = before.Add(-t.retention).UnixNano()
		if it != nil {
			sw.cursor = max(sw.cursor, it.n(attrCursor))
			sw.persisted = it.n(attrCursor)
		}
	}
	var out []cutover.OutcomePair
	firstOpen := int64(-1)
	for day := time.Unix(0, sw.cursor).UTC(); !day.After(before.Add(24 * time.Hour)); day = day.Add(24 * time.Hour) {
		var objs []item
		e := newExpr()
		err := t.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression: ptr(e.n(attrPK) + " = " + e.v(avS(pkObjectIndex+day.Format(dayLayout))) +
				" AND " + e.n(attrSK) + " BETWEEN " + e.v(avS(padNanos(sw.cursor))) + " AND " + e.v(avS(padNanos(before.UnixNano())))),
			FilterExpression:         ptr(e.n(attrLegacySides) + " > " + e.v(avN(0))),
			ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
		}, func(it item) bool {
			objs = append(objs, it)
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("object index: %w", err)
		}
		for _, o := range objs {
			obj, ac := o.s(attrObject), o.n(attrArchived)
			if _, ok := sw.settled[obj]; ok {
				continue
			}
			if len(out) >= limit {
				if firstOpen < 0 {
					firstOpen = ac
				}
				continue
			}
			open, err := t.sweepObject(ctx, o, before, limit-len(out), &out)
			if err != nil {
				return nil, err
			}
			if open {
				if firstOpen < 0 {
					firstOpen = ac
				}
			} else {
				sw.settled[obj] = ac
			}
		}
	}
	next := time.Now().Add(-indexLag).UnixNano()
	if firstOpen >= 0 {
		next = min(next, firstOpen)
	}
	if next > sw.cursor {
		sw.cursor = next
		for obj, ac := range sw.settled {
			if ac < next {
				delete(sw.settled, obj)
			}
		}
	}
	if sw.cursor-sw.persisted >= int64(cursorEvery) {
		if err := t.shareCursor(ctx, sw.cursor); err != nil {
			return nil, err
		}
		sw.persisted = sw.cursor
	}
	return out, nil
}

// shareCursor moves the shared cursor forward to c; a cursor that another
// process moved further stays.
func (t *Table) shareCursor(ctx context.Context, c int64) error {
	e := newExpr()
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(pkSweep, skSweep),
		UpdateExpression:         ptr("SET " + e.n(attrCursor) + " = " + e.v(avN(c))),
		ConditionExpression:      ptr("attribute_not_exists(" + e.n(attrCursor) + ") OR " + e.n(attrCursor) + " < " + e.v(avN(c))),
		ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
	})
	if _, refused := conditionFailed(err); err != nil && !refused {
		return fmt.Errorf("sweep cursor: %w", classified(err))
	}
	return nil
}

// sweepObject lists the open pairs of one object's deferred events,
// writing their legacy sides first; open says whether it has any.
func (t *Table) sweepObject(ctx context.Context, o item, before time.Time, limit int, out *[]cutover.OutcomePair) (open bool, err error) {
	obj := o.s(attrObject)
	data, err := t.blobs.get(ctx, obj, "")
	if err != nil {
		return false, fmt.Errorf("object %s: %w", obj, err)
	}
	var lines []legacyLine
	var keys []item
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte(legacyPrefix)) {
			continue
		}
		var l legacyLine
		if err := json.Unmarshal(line, &l); err != nil {
			return false, fmt.Errorf("object %s: legacy line: %w", obj, err)
		}
		lines = append(lines, l)
		keys = append(keys, key(eventPK(l.EventID), skLog))
	}
	// Eventually consistent reads: these events were archived before the
	// cutoff, long enough ago that a stale read is unlikely, and one costs
	// only a refused write (materializeLegacy finds the pair complete).
	got, err := t.batchGetRead(ctx, keys, false)
	if err != nil {
		return false, err
	}
	archived := time.Unix(0, o.n(attrArchived)).UTC()
	for _, l := range lines {
		it := got[eventPK(l.EventID)+"\x00"+skLog]
		pa := pairOf(l.Epoch)
		if it != nil && it.hasSide(pa.async) {
			continue // finished, or already settled as missing
		}
		open = true
		if limit <= 0 || !archived.Before(before) {
			continue
		}
		p, err := t.materializeLegacy(ctx, l, it, archived)
		if err != nil {
			return true, err
		}
		if p != nil {
			*out = append(*out, *p)
			limit--
		}
	}
	return open, nil
}

// materializeLegacy writes a deferred event's legacy side to the table, as
// the first side of its pair, unless it is there; it returns the pair if
// it is still one-sided.
func (t *Table) materializeLegacy(ctx context.Context, l legacyLine, it item, archived time.Time) (*cutover.OutcomePair, error) {
	pa := pairOf(l.Epoch)
	if it != nil && it.hasSide(pa.legacy) {
		p, err := t.decodePair(ctx, it, l.Epoch)
		return &p, err
	}
	data, err := marshal(l.Outcome)
	if err != nil {
		return nil, err
	}
	attr, val, _, err := t.packJSON(ctx, data, pa.legacy.out, pa.legacy.ref)
	if err != nil {
		return nil, err
	}
	w := &pairWrite{t: t, workflow: l.Workflow, eventID: l.EventID, epoch: l.Epoch, pa: pa, mine: pa.legacy, other: pa.async,
		attr: attr, val: val, tok: newToken(), noted: true, created: archived}
	got, err := w.create(ctx)
	if err == nil {
		p, err := t.decodePair(ctx, got, l.Epoch)
		return &p, err
	}
	old, ok := conditionFailed(err)
	switch {
	case !ok:
		return nil, classified(err)
	case old != nil && old.hasSide(pa.async):
		return nil, nil // finished meanwhile
	case old != nil:
		p, err := t.decodePair(ctx, old, l.Epoch)
		return &p, err
	}
	return nil, nil
}
