package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

// An outcome pair is one item, pk E#event, sk O#epoch: the workflow (wf),
// when the first side arrived (c), and each side's outcome JSON (ol / oa,
// or olr / oar in S3) with the token of the write that recorded it (tl /
// ta). While the pair has one side it carries gsi1 keys U#shard /
// created#event#epoch, so Unpaired is a Query per shard of a sparse index;
// the write that completes the pair removes them, and records its token in
// cby. Each side is one conditional update: the first side creates the
// item, the second requires the first and completes it, so exactly one
// writer sees complete.

const (
	attrWorkflow   = "wf"
	attrCreated    = "c"
	attrCompleteBy = "cby"
	unpairedShards = 8
)

// sideAttrs names the attributes of one side: outcome, S3 reference, token.
type sideAttrs struct{ out, ref, tok string }

func attrsOf(side cutover.Side) (mine, other sideAttrs) {
	legacy, async := sideAttrs{"ol", "olr", "tl"}, sideAttrs{"oa", "oar", "ta"}
	if side == cutover.SideLegacy {
		return legacy, async
	}
	return async, legacy
}

func pairSK(epoch int) string { return "O#" + padEpoch(epoch) }

func unpairedPK(eventID string) string {
	h := fnv.New32a()
	h.Write([]byte(eventID))
	return fmt.Sprintf("U#%d", h.Sum32()%unpairedShards)
}

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
	data, err := marshal(normOutcome(o))
	if err != nil {
		return fail(err)
	}
	mine, other := attrsOf(side)
	attr, val, _, err := t.packJSON(ctx, data, mine.out, mine.ref)
	if err != nil {
		return fail(err)
	}
	w := pairWrite{t: t, workflow: workflow, eventID: eventID, epoch: epoch, mine: mine, other: other, attr: attr, val: val, tok: newToken()}
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
			p, derr := t.decodePair(ctx, it)
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
		case old == nil:
			first = true // no item yet: create it
		case old.s(mine.tok) == w.tok:
			// Our own write, retried after its answer was lost.
			p, derr := t.decodePair(ctx, old)
			if derr != nil {
				return fail(derr)
			}
			return p, old.s(attrCompleteBy) == w.tok, nil
		case old.has(mine.out) || old.has(mine.ref):
			p, derr := t.decodePair(ctx, old)
			if derr != nil {
				return fail(derr)
			}
			return p, false, fmt.Errorf("aws: put outcome %s/%d: %s side: %w", eventID, epoch, side, cutover.ErrAlreadyRecorded)
		default:
			first = false // the other side is there: complete the pair
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
	mine, other sideAttrs
	attr        string
	val         types.AttributeValue
	tok         string
}

// create writes the first side: the item must not exist.
func (w *pairWrite) create(ctx context.Context) (item, error) {
	t, now := w.t, time.Now()
	it := key(eventPK(w.eventID), pairSK(w.epoch))
	it[attrWorkflow] = avS(w.workflow)
	it[attrCreated] = avN(now.UnixNano())
	it[w.attr] = w.val
	it[w.mine.tok] = avS(w.tok)
	it[attrG1PK] = avS(unpairedPK(w.eventID))
	it[attrG1SK] = avS(padNanos(now.UnixNano()) + "#" + w.eventID + "#" + padEpoch(w.epoch))
	it[attrTTL] = t.ttl(now)
	e := newExpr()
	_, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &t.name, Item: it,
		ConditionExpression:                 ptr("attribute_not_exists(" + e.n(attrPK) + ")"),
		ExpressionAttributeNames:            e.attrNames(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	return it, err
}

// complete writes the second side: the other side must be there and this
// one not. It takes the pair out of the unpaired index.
func (w *pairWrite) complete(ctx context.Context) (item, bool, error) {
	t := w.t
	e := newExpr()
	out, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(eventPK(w.eventID), pairSK(w.epoch)),
		UpdateExpression: ptr("SET " + e.n(w.attr) + " = " + e.v(w.val) + ", " + e.n(w.mine.tok) + " = " + e.v(avS(w.tok)) +
			", " + e.n(attrCompleteBy) + " = " + e.v(avS(w.tok)) + " REMOVE " + e.n(attrG1PK) + ", " + e.n(attrG1SK)),
		ConditionExpression: ptr("attribute_exists(" + e.n(attrPK) + ") AND attribute_not_exists(" + e.n(w.mine.out) + ") AND attribute_not_exists(" + e.n(w.mine.ref) +
			") AND (attribute_exists(" + e.n(w.other.out) + ") OR attribute_exists(" + e.n(w.other.ref) + "))"),
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

// decodePair reads a pair item.
func (t *Table) decodePair(ctx context.Context, it item) (cutover.OutcomePair, error) {
	sk := it.s(attrSK)
	var epoch int
	if _, err := fmt.Sscanf(strings.TrimPrefix(sk, "O#"), "%d", &epoch); err != nil {
		return cutover.OutcomePair{}, fmt.Errorf("pair key %q: %w", sk, err)
	}
	p := cutover.OutcomePair{
		EventID: unesc(strings.TrimPrefix(it.s(attrPK), "E#")), Epoch: epoch, Workflow: it.s(attrWorkflow),
		CreatedAt: fromNanos(it.n(attrCreated)),
	}
	for _, side := range []struct {
		a   sideAttrs
		dst **cutover.Outcome
	}{{sideAttrs{"ol", "olr", "tl"}, &p.Legacy}, {sideAttrs{"oa", "oar", "ta"}, &p.Async}} {
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
	it, err := t.get(ctx, eventPK(eventID), pairSK(epoch))
	if err == nil && it == nil {
		err = cutover.ErrNotFound
	}
	var p cutover.OutcomePair
	if err == nil {
		p, err = t.decodePair(ctx, it)
	}
	if err != nil {
		return cutover.OutcomePair{}, fmt.Errorf("aws: outcome pair %s/%d: %w", eventID, epoch, err)
	}
	return p, nil
}

// Unpaired lists one-sided pairs whose first side arrived before `before`,
// oldest first. It merges the shards of the sparse unpaired index (which
// is eventually consistent) and reads each candidate back, so a pair
// completed meanwhile is not listed.
func (t *Table) Unpaired(ctx context.Context, before time.Time, limit int) ([]cutover.OutcomePair, error) {
	if limit <= 0 {
		limit = defaultMax
	}
	type cand struct{ sortKey, pk, sk string }
	var cands []cand
	for s := 0; s < unpairedShards; s++ {
		e := newExpr()
		n := 0
		err := t.query(ctx, &dynamodb.QueryInput{
			IndexName: ptr(indexGSI1),
			KeyConditionExpression: ptr(e.n(attrG1PK) + " = " + e.v(avS(fmt.Sprintf("U#%d", s))) +
				" AND " + e.n(attrG1SK) + " < " + e.v(avS(padNanos(before.UnixNano())))),
			ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
			Limit: ptr(int32(min(limit, queryPage))),
		}, func(it item) bool {
			cands = append(cands, cand{it.s(attrG1SK), it.s(attrPK), it.s(attrSK)})
			n++
			return n < limit
		})
		if err != nil {
			return nil, fmt.Errorf("aws: unpaired: %w", err)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].sortKey < cands[j].sortKey })
	var out []cutover.OutcomePair
	for start := 0; start < len(cands) && len(out) < limit; start += batchGetN {
		chunk := cands[start:min(start+batchGetN, len(cands))]
		keys := make([]item, len(chunk))
		for i, c := range chunk {
			keys[i] = key(c.pk, c.sk)
		}
		got, err := t.batchGet(ctx, keys)
		if err != nil {
			return nil, fmt.Errorf("aws: unpaired: %w", err)
		}
		for _, c := range chunk {
			it, ok := got[c.pk+"\x00"+c.sk]
			if !ok || it.has(attrCompleteBy) {
				continue // expired, or completed since the index was read
			}
			p, err := t.decodePair(ctx, it)
			if err != nil {
				return nil, fmt.Errorf("aws: unpaired: %w", err)
			}
			if out = append(out, p); len(out) == limit {
				break
			}
		}
	}
	return out, nil
}
