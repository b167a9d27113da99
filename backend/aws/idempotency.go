package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

// An idempotency record is one item, pk I#workflow#step#key, sk I, with the
// payload hash (h), holder event (ev), epoch (ep), completed flag (done),
// lease end in Unix nanoseconds (lu), the outcome JSON (out, or outref in
// S3), last update (up) and the token of the last write (tok). Every change
// is one conditional write: a claim costs one write unit when the key is
// new, which is the common case, and the answer to a claim that does not
// acquire comes back in the failed write's old item, without a read.

const (
	skIdem      = "I"
	attrHash    = "h"
	attrEvent   = "ev"
	attrEpoch   = "ep"
	attrDone    = "done"
	attrLease   = "lu"
	attrOut     = "out"
	attrOutRef  = "outref"
	attrUpdated = "up"
)

func idemPK(k cutover.IdempotencyKey) string {
	return "I#" + esc(k.Workflow) + "#" + esc(k.Step) + "#" + esc(k.Key)
}

func keyString(k cutover.IdempotencyKey) string { return k.Workflow + "/" + k.Step + "/" + k.Key }

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

var _ cutover.IdempotencyStore = (*Table)(nil)

// Claim takes the lease on a key, or reports why not. See
// cutover.IdempotencyStore.
func (t *Table) Claim(ctx context.Context, req cutover.ClaimRequest) (cutover.Claim, error) {
	k := req.Key
	if k.Workflow == "" || k.Key == "" {
		return cutover.Claim{}, fmt.Errorf("aws: claim %s: workflow and key must be set", keyString(k))
	}
	if req.Lease <= 0 {
		return cutover.Claim{}, fmt.Errorf("aws: claim %s: lease %v must be positive", keyString(k), req.Lease)
	}
	c, err := t.claim(ctx, req)
	if err != nil {
		return cutover.Claim{}, fmt.Errorf("aws: claim %s: %w", keyString(k), err)
	}
	return c, nil
}

func (t *Table) claim(ctx context.Context, req cutover.ClaimRequest) (cutover.Claim, error) {
	tok := newToken()
	now := time.Now()
	until := now.Add(req.Lease)
	acquired := func(epoch int64) cutover.Claim {
		return cutover.Claim{State: cutover.ClaimAcquired, Epoch: epoch, EventID: req.EventID, LeaseUntil: until.UTC()}
	}
	it := key(idemPK(req.Key), skIdem)
	it[attrHash] = avS(req.PayloadHash)
	it[attrEvent] = avS(req.EventID)
	it[attrEpoch] = avN(1)
	it[attrDone] = avBool(false)
	it[attrLease] = avN(until.UnixNano())
	it[attrUpdated] = avN(now.UnixNano())
	it[attrToken] = avS(tok)
	it[attrTTL] = t.ttl(now)
	e := newExpr()
	_, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &t.name, Item: it,
		ConditionExpression:                 ptr("attribute_not_exists(" + e.n(attrPK) + ")"),
		ExpressionAttributeNames:            e.attrNames(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return acquired(1), nil
	}
	old, ok := conditionFailed(err)
	if !ok {
		return cutover.Claim{}, classified(err)
	}
	for try := 0; ; try++ {
		if old == nil { // expired by TTL in between: start afresh
			return t.claim(ctx, req)
		}
		if old.s(attrToken) == tok {
			// Our own write, retried after its answer was lost.
			return acquired(old.n(attrEpoch)), nil
		}
		switch {
		case old.s(attrHash) != req.PayloadHash:
			return cutover.Claim{State: cutover.ClaimConflict, EventID: old.s(attrEvent)}, nil
		case old.b(attrDone):
			o, err := t.storedOutcome(ctx, old)
			if err != nil {
				return cutover.Claim{}, err
			}
			return cutover.Claim{State: cutover.ClaimCompleted, Epoch: old.n(attrEpoch), EventID: old.s(attrEvent), Outcome: o}, nil
		case old.n(attrLease) > now.UnixNano():
			return cutover.Claim{State: cutover.ClaimBusy, EventID: old.s(attrEvent), LeaseUntil: fromNanos(old.n(attrLease))}, nil
		}
		// The lease expired or was released: take over with the next
		// epoch, which fences the previous holder. The condition pins the
		// state we decided on.
		epoch := old.n(attrEpoch) + 1
		e := newExpr()
		_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &t.name, Key: key(idemPK(req.Key), skIdem),
			UpdateExpression: ptr("SET " + e.n(attrEpoch) + " = " + e.v(avN(epoch)) + ", " + e.n(attrEvent) + " = " + e.v(avS(req.EventID)) +
				", " + e.n(attrLease) + " = " + e.v(avN(until.UnixNano())) + ", " + e.n(attrUpdated) + " = " + e.v(avN(now.UnixNano())) +
				", " + e.n(attrToken) + " = " + e.v(avS(tok)) + ", " + e.n(attrTTL) + " = " + e.v(t.ttl(now))),
			ConditionExpression: ptr(e.n(attrEpoch) + " = " + e.v(avN(old.n(attrEpoch))) + " AND " + e.n(attrDone) + " = " + e.v(avBool(false)) +
				" AND " + e.n(attrLease) + " = " + e.v(avN(old.n(attrLease)))),
			ExpressionAttributeNames:            e.attrNames(),
			ExpressionAttributeValues:           e.attrValues(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return acquired(epoch), nil
		}
		if old, ok = conditionFailed(err); !ok {
			return cutover.Claim{}, classified(err)
		}
		if try > 100 {
			return cutover.Claim{}, fmt.Errorf("takeover kept losing to concurrent writers: %w", cutover.ErrUnavailable)
		}
	}
}

// storedOutcome decodes the outcome of a completed record.
func (t *Table) storedOutcome(ctx context.Context, it item) (*cutover.Outcome, error) {
	data, ok, err := t.unpackJSON(ctx, it, attrOut, attrOutRef)
	if err != nil || !ok {
		return nil, err
	}
	o := new(cutover.Outcome)
	if err := json.Unmarshal(data, o); err != nil {
		return nil, fmt.Errorf("stored outcome: %w", err)
	}
	return o, nil
}

// holderWrite runs one conditional update that only the holder of epoch
// may make on a record that is not completed. When the condition fails it
// reports, from the old item: ErrNotFound, ErrFenced, or (for a completed
// record) the result of done(ownWrite).
func (t *Table) holderWrite(ctx context.Context, k cutover.IdempotencyKey, epoch int64, tok string, set string, e *expr, done func(ownWrite bool) error) error {
	cond := "attribute_exists(" + e.n(attrPK) + ") AND " + e.n(attrEpoch) + " = " + e.v(avN(epoch)) + " AND " + e.n(attrDone) + " = " + e.v(avBool(false))
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(idemPK(k), skIdem),
		UpdateExpression: ptr(set), ConditionExpression: ptr(cond),
		ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil
	}
	old, ok := conditionFailed(err)
	switch {
	case !ok:
		return classified(err)
	case old == nil:
		return cutover.ErrNotFound
	case old.n(attrEpoch) != epoch:
		return fmt.Errorf("epoch %d, current %d: %w", epoch, old.n(attrEpoch), cutover.ErrFenced)
	}
	return done(old.s(attrToken) == tok)
}

// ExtendLease moves the lease end to lease from now. ErrFenced if a newer
// epoch took the key over. Extending a completed key is a no-op.
func (t *Table) ExtendLease(ctx context.Context, k cutover.IdempotencyKey, epoch int64, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("aws: extend lease %s: lease %v must be positive", keyString(k), lease)
	}
	now := time.Now()
	e := newExpr()
	set := "SET " + e.n(attrLease) + " = " + e.v(avN(now.Add(lease).UnixNano())) + ", " + e.n(attrUpdated) + " = " + e.v(avN(now.UnixNano())) +
		", " + e.n(attrTTL) + " = " + e.v(t.ttl(now))
	if err := t.holderWrite(ctx, k, epoch, "", set, e, func(bool) error { return nil }); err != nil {
		return fmt.Errorf("aws: extend lease %s: %w", keyString(k), err)
	}
	return nil
}

// Complete stores the outcome and marks the key completed. ErrFenced if a
// newer epoch holds the key; ErrAlreadyRecorded if it is completed.
func (t *Table) Complete(ctx context.Context, k cutover.IdempotencyKey, epoch int64, o *cutover.Outcome) error {
	if o == nil {
		return fmt.Errorf("aws: complete %s: outcome is nil", keyString(k))
	}
	data, err := marshal(normOutcome(o))
	if err != nil {
		return fmt.Errorf("aws: complete %s: outcome: %w", keyString(k), err)
	}
	attr, val, other, err := t.packJSON(ctx, data, attrOut, attrOutRef)
	if err != nil {
		return fmt.Errorf("aws: complete %s: %w", keyString(k), err)
	}
	now := time.Now()
	tok := newToken()
	e := newExpr()
	set := "SET " + e.n(attrDone) + " = " + e.v(avBool(true)) + ", " + e.n(attr) + " = " + e.v(val) + ", " + e.n(attrLease) + " = " + e.v(avN(0)) +
		", " + e.n(attrUpdated) + " = " + e.v(avN(now.UnixNano())) + ", " + e.n(attrToken) + " = " + e.v(avS(tok)) +
		", " + e.n(attrTTL) + " = " + e.v(t.ttl(now)) + " REMOVE " + e.n(other)
	err = t.holderWrite(ctx, k, epoch, tok, set, e, func(own bool) error {
		if own {
			return nil // our write, retried after its answer was lost
		}
		return cutover.ErrAlreadyRecorded
	})
	if err != nil {
		return fmt.Errorf("aws: complete %s: %w", keyString(k), err)
	}
	return nil
}

// Release ends the lease so that the next claim takes the key at once, with
// the next epoch. Releasing a completed key is a no-op.
func (t *Table) Release(ctx context.Context, k cutover.IdempotencyKey, epoch int64) error {
	now := time.Now()
	e := newExpr()
	set := "SET " + e.n(attrLease) + " = " + e.v(avN(0)) + ", " + e.n(attrUpdated) + " = " + e.v(avN(now.UnixNano()))
	if err := t.holderWrite(ctx, k, epoch, "", set, e, func(bool) error { return nil }); err != nil {
		return fmt.Errorf("aws: release %s: %w", keyString(k), err)
	}
	return nil
}

// IdempotencyRecord returns the stored state of a key, or ErrNotFound.
func (t *Table) IdempotencyRecord(ctx context.Context, k cutover.IdempotencyKey) (*cutover.IdempotencyRecord, error) {
	it, err := t.get(ctx, idemPK(k), skIdem)
	if err == nil && it == nil {
		err = cutover.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("aws: idempotency record %s: %w", keyString(k), err)
	}
	rec := &cutover.IdempotencyRecord{
		Key: k, Completed: it.b(attrDone), Epoch: it.n(attrEpoch), PayloadHash: it.s(attrHash), EventID: it.s(attrEvent),
		LeaseUntil: fromNanos(it.n(attrLease)), UpdatedAt: fromNanos(it.n(attrUpdated)),
	}
	if rec.Outcome, err = t.storedOutcome(ctx, it); err != nil {
		return nil, fmt.Errorf("aws: idempotency record %s: %w", keyString(k), err)
	}
	return rec, nil
}
