package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

// Outcome pairs live on their event's item (eventitem.go), one set of
// attributes per epoch. Each side is one conditional update: the first
// side requires the other to be absent, the second requires it present and
// marks the pair completed by its token (cby_N), so exactly one writer sees
// complete. Before a first side is written, a manifest naming the pair is
// (unpaired.go): that is how the sweeper finds pairs left one-sided, without
// an index entry written and deleted for every pair.

const (
	attrWorkflow = "wf"
)

var _ cutover.OutcomeStore = (*Table)(nil)

// PutOutcome records one side of the pair. See cutover.OutcomeStore.
func (t *Table) PutOutcome(ctx context.Context, workflow, eventID string, epoch int, side cutover.Side, o *cutover.Outcome) (cutover.OutcomePair, bool, error) {
	fail := func(err error) (cutover.OutcomePair, bool, error) {
		return cutover.OutcomePair{}, false, fmt.Errorf("aws: put outcome %s/%d: %w", eventID, epoch, err)
	}
	switch {
	case side != cutover.SideLegacy && side != cutover.SideAsync:
		return fail(fmt.Errorf("side %q is unknown (want legacy or async)", side))
	case o == nil || eventID == "":
		return fail(fmt.Errorf("event id and outcome must be set"))
	case epoch < 0:
		return fail(fmt.Errorf("epoch %d is negative", epoch))
	}
	data, err := encodeOutcome(o)
	if err != nil {
		return fail(err)
	}
	pa := pairOf(epoch)
	mine, other := pa.sides(side)
	attr, val, _, err := t.packJSON(ctx, data, mine.out, mine.ref)
	if err != nil {
		return fail(err)
	}
	w := &pairWrite{t: t, workflow: workflow, eventID: eventID, epoch: epoch, pa: pa, mine: mine, other: other, attr: attr, val: val, tok: newToken()}
	// The legacy side usually arrives first (the proxy records it when the
	// legacy service answers; the async side waits for a queue hop and a
	// handler), so each side first tries the write it most likely makes.
	first := side == cutover.SideLegacy
	for try := 0; try < 4; try++ {
		var it item
		var complete bool
		if first {
			it, err = w.create(ctx)
		} else {
			it, complete, err = w.complete(ctx)
		}
		if err == nil {
			p, derr := t.decodePair(ctx, it, epoch)
			if derr != nil {
				return fail(derr)
			}
			return p, complete, nil
		}
		old, ok := conditionFailed(err)
		if !ok {
			return fail(classified(err))
		}
		switch {
		case old != nil && old.s(mine.tok) == w.tok:
			// Our own write, retried after its answer was lost.
			p, derr := t.decodePair(ctx, old, epoch)
			if derr != nil {
				return fail(derr)
			}
			return p, old.s(pa.compBy) == w.tok, nil
		case old != nil && old.hasSide(mine):
			p, derr := t.decodePair(ctx, old, epoch)
			if derr != nil {
				return fail(derr)
			}
			return p, false, fmt.Errorf("aws: put outcome %s/%d: %s side: %w", eventID, epoch, side, cutover.ErrAlreadyRecorded)
		case old != nil && old.hasSide(other):
			first = false // the other side is there: complete the pair
		default:
			first = true
		}
	}
	return fail(fmt.Errorf("the pair kept changing under this write: %w", cutover.ErrUnavailable))
}

// pairWrite is one side being recorded.
type pairWrite struct {
	t           *Table
	workflow    string
	eventID     string
	epoch       int
	pa          pairAttrs
	mine, other sideAttrs
	attr        string
	val         types.AttributeValue
	tok         string
	noted       bool      // the manifest is written, or not needed
	created     time.Time // when the first side arrived; zero: now
}

// create writes the first side: neither side may be there. The manifest
// goes first, so that a crash in between leaves a manifest naming a pair
// that is not there (which the sweeper drops), never a pair no manifest
// names.
func (w *pairWrite) create(ctx context.Context) (item, error) {
	t, now := w.t, time.Now()
	if !w.created.IsZero() {
		now = w.created
	}
	if !w.noted {
		if err := t.noteUnpaired(ctx, []pairKey{{w.eventID, w.epoch}}, now); err != nil {
			return nil, err
		}
		w.noted = true
	}
	e := newExpr()
	out, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(eventPK(w.eventID), skLog),
		UpdateExpression: ptr("SET " + e.n(w.attr) + " = " + e.v(w.val) + ", " + e.n(w.mine.tok) + " = " + e.v(avS(w.tok)) +
			", " + e.n(w.pa.created) + " = " + e.v(avN(now.UnixNano())) + ", " + e.n(attrWorkflow) + " = " + e.v(avS(w.workflow)) +
			", " + e.n(attrTTL) + " = " + e.v(t.ttl(time.Now()))),
		ConditionExpression:                 ptr(sideAbsent(e, w.mine) + " AND " + sideAbsent(e, w.other)),
		ExpressionAttributeNames:            e.attrNames(),
		ExpressionAttributeValues:           e.attrValues(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return nil, err
	}
	return item(out.Attributes), nil
}

// complete writes the second side: the other side must be there and this
// one not.
func (w *pairWrite) complete(ctx context.Context) (item, bool, error) {
	t := w.t
	e := newExpr()
	out, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(eventPK(w.eventID), skLog),
		UpdateExpression: ptr("SET " + e.n(w.attr) + " = " + e.v(w.val) + ", " + e.n(w.mine.tok) + " = " + e.v(avS(w.tok)) +
			", " + e.n(w.pa.compBy) + " = " + e.v(avS(w.tok)) + ", " + e.n(attrTTL) + " = " + e.v(t.ttl(time.Now()))),
		ConditionExpression:                 ptr(sideAbsent(e, w.mine) + " AND " + sidePresent(e, w.other)),
		ExpressionAttributeNames:            e.attrNames(),
		ExpressionAttributeValues:           e.attrValues(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return nil, false, err
	}
	return item(out.Attributes), true, nil
}

func sideAbsent(e *expr, a sideAttrs) string {
	return "attribute_not_exists(" + e.n(a.out) + ") AND attribute_not_exists(" + e.n(a.ref) + ")"
}

func sidePresent(e *expr, a sideAttrs) string {
	return "(attribute_exists(" + e.n(a.out) + ") OR attribute_exists(" + e.n(a.ref) + "))"
}

// decodePair reads the pair of epoch from an event item.
func (t *Table) decodePair(ctx context.Context, it item, epoch int) (cutover.OutcomePair, error) {
	pa := pairOf(epoch)
	p := cutover.OutcomePair{
		EventID: unesc(strings.TrimPrefix(it.s(attrPK), "E#")), Epoch: epoch, Workflow: it.s(attrWorkflow),
		CreatedAt: fromNanos(it.n(pa.created)),
	}
	for _, side := range []struct {
		a   sideAttrs
		dst **cutover.Outcome
	}{{pa.legacy, &p.Legacy}, {pa.async, &p.Async}} {
		data, ok, err := t.unpackJSON(ctx, it, side.a.out, side.a.ref)
		if err != nil {
			return cutover.OutcomePair{}, err
		}
		if !ok {
			continue
		}
		*side.dst = new(cutover.Outcome)
		if err := json.Unmarshal(data, *side.dst); err != nil {
			return cutover.OutcomePair{}, fmt.Errorf("stored outcome: %w", err)
		}
	}
	return p, nil
}

// OutcomePair returns the pair of eventID in epoch, or ErrNotFound.
func (t *Table) OutcomePair(ctx context.Context, eventID string, epoch int) (cutover.OutcomePair, error) {
	it, err := t.get(ctx, eventPK(eventID), skLog)
	pa := pairOf(epoch)
	if err == nil && (it == nil || (!it.hasSide(pa.legacy) && !it.hasSide(pa.async))) {
		err = cutover.ErrNotFound
	}
	var p cutover.OutcomePair
	if err == nil {
		p, err = t.decodePair(ctx, it, epoch)
	}
	if err != nil {
		return cutover.OutcomePair{}, fmt.Errorf("aws: outcome pair %s/%d: %w", eventID, epoch, err)
	}
	return p, nil
}
