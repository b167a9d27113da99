package aws

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

var _ cutover.Finisher = (*Table)(nil)

// Finish implements cutover.Finisher with one conditional update of the
// event item: the scope completed, the async side of the pair recorded and
// the log appended, or nothing. One write unit for a typical event, where
// Complete, PutOutcome and Append cost three writes (and a transaction
// doing the same, six).
//
// Fencing is the event item's: a holder whose epoch was fenced off there by
// a takeover gets ErrFenced. Finish does not read the idempotency record, so
// a finish without any claim is not refused with ErrNotFound (the worker
// always claims first).
func (t *Table) Finish(ctx context.Context, f cutover.Finish) (cutover.FinishResult, error) {
	k := f.Key
	switch {
	case f.Outcome == nil || f.EventID == "" || len(f.Transitions) == 0:
		return cutover.FinishResult{}, fmt.Errorf("aws: finish %s: outcome, event id and transitions must be set", keyString(k))
	case f.Pair != nil && f.Pair.EventID != f.EventID:
		return cutover.FinishResult{}, fmt.Errorf("aws: finish %s: the pair (%s) must be the finished event's (%s)", keyString(k), f.Pair.EventID, f.EventID)
	case f.Expect < 0:
		return cutover.FinishResult{}, fmt.Errorf("aws: finish %s: version %d is negative", keyString(k), f.Expect)
	}
	res, err := t.finish(ctx, f)
	if err != nil {
		return res, fmt.Errorf("aws: finish %s: %w", keyString(k), err)
	}
	return res, nil
}

// pairPlan is how one finish write treats the pair, planned from what the
// item is believed to hold (l, a: each side present); the write's
// condition pins that belief, and a failed condition revises it.
type pairPlan struct {
	pair, l, a  bool // a pair is recorded; the sides believed present
	writeAsync  bool
	writeLegacy bool // the deferred start's legacy side
	complete    bool // this write makes the pair whole
	creates     bool // this write creates the pair
}

func planPair(pair, deferredLegacy, l, a bool) pairPlan {
	p := pairPlan{pair: pair, l: l, a: a}
	if !pair {
		return p
	}
	p.writeAsync = !a
	p.writeLegacy = deferredLegacy && !l
	p.complete = (p.writeAsync || p.writeLegacy) && (l || p.writeLegacy) && (a || p.writeAsync)
	p.creates = !l && !a
	return p
}

func (t *Table) finish(ctx context.Context, f cutover.Finish) (cutover.FinishResult, error) {
	data, err := encodeOutcome(f.Outcome)
	if err != nil {
		return cutover.FinishResult{}, fmt.Errorf("outcome: %w", err)
	}
	entries, err := logEntries(f.Transitions, time.Now())
	if err != nil {
		return cutover.FinishResult{}, err
	}
	var legacyData []byte
	if f.Start != nil && f.Start.Legacy != nil && f.Pair != nil {
		if legacyData, err = encodeOutcome(f.Start.Legacy); err != nil {
			return cutover.FinishResult{}, fmt.Errorf("legacy outcome: %w", err)
		}
	}
	var aref *archiveRef
	if f.Start != nil && f.Start.Ref != "" {
		r, err := parseArchiveRef(f.Start.Ref)
		if err != nil {
			return cutover.FinishResult{}, err
		}
		aref = &r
	}
	sc := scopeOf(f.Key)
	var pa pairAttrs
	epoch := 0
	if f.Pair != nil {
		epoch = f.Pair.Epoch
		pa = pairOf(epoch)
	}
	// A fresh event's legacy side is usually there (the proxy recorded
	// it), or comes with this write (a deferred start).
	plan := planPair(f.Pair != nil, legacyData != nil, legacyData == nil, false)
	tok := newToken()
	noted := false
	for try := 0; try < 4; try++ {
		now := time.Now()
		if plan.creates && !plan.writeLegacy && !noted {
			// The async side comes first: name the pair in a manifest
			// so the sweeper finds it if its legacy side never comes.
			if err := t.noteUnpaired(ctx, []pairKey{{f.EventID, epoch}}, now); err != nil {
				return cutover.FinishResult{}, err
			}
			noted = true
		}
		// Where the outcome goes: the async side when this write records
		// it, else the scope's own attributes.
		out, ref := sc.out, sc.ref
		if plan.writeAsync {
			out, ref = pa.async.out, pa.async.ref
		}
		attr, val, _, err := t.packJSON(ctx, data, out, ref)
		if err != nil {
			return cutover.FinishResult{}, err
		}
		next := f.Expect + len(entries)
		e := newExpr()
		set := "SET " + e.n(attrVersion) + " = " + e.v(avN(int64(next))) +
			", " + e.n(attrLog) + " = list_append(if_not_exists(" + e.n(attrLog) + ", " + e.v(avL()) + "), " + e.v(avL(entries...)) + ")" +
			", " + e.n(attrBase) + " = if_not_exists(" + e.n(attrBase) + ", " + e.v(avN(0)) + ")" +
			", " + e.n(attrToken) + " = " + e.v(avS(tok)) + ", " + e.n(attrTTL) + " = " + e.v(t.ttl(now)) +
			", " + e.n(attr) + " = " + e.v(val) + ", " + e.n(sc.done) + " = " + e.v(avS(out+" "+ref)) + ", " + e.n(sc.tok) + " = " + e.v(avS(tok))
		if aref != nil {
			set += ", " + aref.keep(e)
		}
		cond := "attribute_not_exists(" + e.n(attrVersion) + ")"
		if f.Expect > 0 {
			cond = e.n(attrVersion) + " = " + e.v(avN(int64(f.Expect)))
		}
		cond += " AND " + completable(e, sc, f.Epoch)
		if plan.pair {
			cond += " AND " + sideIs(e, pa.legacy, plan.l) + " AND " + sideIs(e, pa.async, plan.a)
			if plan.writeAsync {
				set += ", " + e.n(pa.async.tok) + " = " + e.v(avS(tok))
			}
			if plan.writeLegacy {
				lattr, lval, _, err := t.packJSON(ctx, legacyData, pa.legacy.out, pa.legacy.ref)
				if err != nil {
					return cutover.FinishResult{}, err
				}
				set += ", " + e.n(lattr) + " = " + e.v(lval) + ", " + e.n(pa.legacy.tok) + " = " + e.v(avS(tok))
			}
			if plan.creates {
				set += ", " + e.n(pa.created) + " = " + e.v(avN(now.UnixNano())) + ", " + e.n(attrWorkflow) + " = " + e.v(avS(f.Pair.Workflow))
			}
			if plan.complete {
				set += ", " + e.n(pa.compBy) + " = " + e.v(avS(tok))
			}
		}
		o, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &t.name, Key: key(eventPK(f.EventID), skLog),
			UpdateExpression: ptr(set), ConditionExpression: ptr(cond),
			ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return t.finishResult(ctx, item(o.Attributes), f, plan, next, plan.complete)
		}
		old, ok := conditionFailed(err)
		if !ok {
			return cutover.FinishResult{}, classified(err)
		}
		if serr := notCompletable(old, sc, f.Epoch, tok); serr == nil {
			// Our own write, retried after its answer was lost.
			return t.finishResult(ctx, old, f, plan, next, plan.pair && old.s(pa.compBy) == tok)
		} else if serr != errOtherCondition {
			return cutover.FinishResult{}, serr
		}
		if cur := int(old.n(attrVersion)); cur != f.Expect {
			return cutover.FinishResult{}, fmt.Errorf("log at version %d, not %d: %w", cur, f.Expect, cutover.ErrVersionConflict)
		}
		if !plan.pair {
			return cutover.FinishResult{}, fmt.Errorf("event item changed under the write: %w", cutover.ErrUnavailable)
		}
		plan = planPair(true, legacyData != nil, old.hasSide(pa.legacy), old.hasSide(pa.async))
	}
	return cutover.FinishResult{}, fmt.Errorf("the event item kept changing under this write: %w", cutover.ErrUnavailable)
}

// sideIs is the condition that side a is present (or absent).
func sideIs(e *expr, a sideAttrs, present bool) string {
	if present {
		return sidePresent(e, a)
	}
	return "(" + sideAbsent(e, a) + ")"
}

// finishResult is what a successful finish reports from the item it left.
func (t *Table) finishResult(ctx context.Context, it item, f cutover.Finish, plan pairPlan, version int, complete bool) (cutover.FinishResult, error) {
	res := cutover.FinishResult{Version: version, Complete: complete}
	if !plan.writeAsync && !complete {
		return res, nil // the pair was left as it was
	}
	p, err := t.decodePair(ctx, it, f.Pair.Epoch)
	if err != nil {
		return res, err
	}
	if p.Workflow == "" {
		p.Workflow = f.Pair.Workflow
	}
	res.Pair = p
	return res, nil
}

// logEntries encodes transitions as stored log entries.
func logEntries(ts []cutover.Transition, now time.Time) ([]string, error) {
	entries := make([]string, len(ts))
	for i, tr := range ts {
		at := tr.At
		if at.IsZero() {
			at = now
		}
		data, err := marshal(wireTransition{Kind: string(tr.Kind), At: at.UnixNano(), Attempt: tr.Attempt, Epoch: tr.Epoch,
			Delay: int64(tr.Delay), Detail: tr.Detail, Worker: tr.Worker})
		if err != nil {
			return nil, err
		}
		entries[i] = string(data)
	}
	return entries, nil
}
