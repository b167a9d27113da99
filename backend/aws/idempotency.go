package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

// An idempotency record is one item, pk I#workflow#step#key, sk I, with the
// payload hash (h), holder event (ev), epoch (ep), lease end in Unix
// nanoseconds (lu), last update (up) and the token of the last write (tok).
// It says who holds the key; whether the key is completed, and with which
// outcome, is recorded on the holder's event item (eventitem.go), which is
// also where fencing happens: a takeover first raises the fence on the old
// holder's event item, so the old holder's completing write fails there.
//
// A claim on a new key, the common case, is one conditional write; the
// answer to a claim that does not acquire starts from the failed write's old
// item and reads the holder's event item.

const (
	skIdem      = "I"
	attrHash    = "h"
	attrEvent   = "ev"
	attrEpoch   = "ep"
	attrLease   = "lu"
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
	if k.Workflow == "" || k.Key == "" || req.EventID == "" {
		return cutover.Claim{}, fmt.Errorf("aws: claim %s: workflow, key and event id must be set", keyString(k))
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
	sc := scopeOf(req.Key)
	for try := 0; ; try++ {
		if try > 100 {
			return cutover.Claim{}, fmt.Errorf("takeover kept losing to concurrent writers: %w", cutover.ErrUnavailable)
		}
		if old == nil { // expired by TTL in between: start afresh
			return t.claim(ctx, req)
		}
		if old.s(attrToken) == tok {
			// Our own write, retried after its answer was lost.
			return acquired(old.n(attrEpoch)), nil
		}
		if old.s(attrHash) != req.PayloadHash {
			return cutover.Claim{State: cutover.ClaimConflict, EventID: old.s(attrEvent)}, nil
		}
		holder, epoch := old.s(attrEvent), old.n(attrEpoch)
		ev, err := t.get(ctx, eventPK(holder), skLog)
		if err != nil {
			return cutover.Claim{}, err
		}
		if ev != nil && ev.has(sc.done) {
			return t.completedClaim(ctx, ev, sc, holder, epoch)
		}
		if old.n(attrLease) > now.UnixNano() {
			return cutover.Claim{State: cutover.ClaimBusy, EventID: holder, LeaseUntil: fromNanos(old.n(attrLease))}, nil
		}
		// The lease expired or was released: fence the holder's event off
		// first, so that no moment exists where the record names a new
		// holder while the old one can still complete; then take the
		// record over with the next epoch.
		done, err := t.fence(ctx, holder, sc, epoch+1)
		if err != nil {
			return cutover.Claim{}, err
		}
		if done != nil {
			return t.completedClaim(ctx, done, sc, holder, epoch)
		}
		e := newExpr()
		_, err = t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &t.name, Key: key(idemPK(req.Key), skIdem),
			UpdateExpression: ptr("SET " + e.n(attrEpoch) + " = " + e.v(avN(epoch+1)) + ", " + e.n(attrEvent) + " = " + e.v(avS(req.EventID)) +
				", " + e.n(attrLease) + " = " + e.v(avN(until.UnixNano())) + ", " + e.n(attrUpdated) + " = " + e.v(avN(now.UnixNano())) +
				", " + e.n(attrToken) + " = " + e.v(avS(tok)) + ", " + e.n(attrTTL) + " = " + e.v(t.ttl(now))),
			ConditionExpression:                 ptr(e.n(attrEpoch) + " = " + e.v(avN(epoch)) + " AND " + e.n(attrLease) + " = " + e.v(avN(old.n(attrLease)))),
			ExpressionAttributeNames:            e.attrNames(),
			ExpressionAttributeValues:           e.attrValues(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return acquired(epoch + 1), nil
		}
		if old, ok = conditionFailed(err); !ok {
			return cutover.Claim{}, classified(err)
		}
	}
}

// completedClaim is the answer for a key whose holder event completed it.
func (t *Table) completedClaim(ctx context.Context, ev item, sc scopeAttrs, holder string, epoch int64) (cutover.Claim, error) {
	o, err := t.completion(ctx, ev, sc)
	if err != nil {
		return cutover.Claim{}, err
	}
	return cutover.Claim{State: cutover.ClaimCompleted, Epoch: epoch, EventID: holder, Outcome: o}, nil
}

// fence raises the fence of scope sc on eventID's item to epoch, so that
// holders with a lower epoch can no longer complete it there. If the event
// has completed the scope already, it returns the event item instead.
func (t *Table) fence(ctx context.Context, eventID string, sc scopeAttrs, epoch int64) (completed item, err error) {
	e := newExpr()
	_, err = t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(eventPK(eventID), skLog),
		UpdateExpression: ptr("SET " + e.n(sc.fence) + " = " + e.v(avN(epoch)) + ", " + e.n(attrTTL) + " = " + e.v(t.ttl(time.Now()))),
		ConditionExpression: ptr("attribute_not_exists(" + e.n(sc.done) + ") AND (attribute_not_exists(" + e.n(sc.fence) + ") OR " +
			e.n(sc.fence) + " < " + e.v(avN(epoch)) + ")"),
		ExpressionAttributeNames:            e.attrNames(),
		ExpressionAttributeValues:           e.attrValues(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil, nil
	}
	old, ok := conditionFailed(err)
	switch {
	case !ok:
		return nil, classified(err)
	case old != nil && old.has(sc.done):
		return old, nil
	}
	return nil, nil // fenced at this epoch or higher already: as good
}

// completion decodes the outcome a scope was completed with.
func (t *Table) completion(ctx context.Context, ev item, sc scopeAttrs) (*cutover.Outcome, error) {
	out, ref, ok := ev.completionAttrs(sc)
	if !ok {
		return nil, nil
	}
	data, ok, err := t.unpackJSON(ctx, ev, out, ref)
	if err != nil || !ok {
		return nil, err
	}
	o := new(cutover.Outcome)
	if err := json.Unmarshal(data, o); err != nil {
		return nil, fmt.Errorf("stored outcome: %w", err)
	}
	return o, nil
}

// holderWrite runs one conditional update of the record that only the
// holder of epoch may make: ErrNotFound or ErrFenced otherwise.
func (t *Table) holderWrite(ctx context.Context, k cutover.IdempotencyKey, epoch int64, set string, e *expr) error {
	cond := "attribute_exists(" + e.n(attrPK) + ") AND " + e.n(attrEpoch) + " = " + e.v(avN(epoch))
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
	}
	return fmt.Errorf("epoch %d, current %d: %w", epoch, old.n(attrEpoch), cutover.ErrFenced)
}

// ExtendLease moves the lease end to lease from now. ErrFenced if a newer
// epoch took the key over. Extending a completed key changes nothing that
// matters: a completed key is answered from its event item.
func (t *Table) ExtendLease(ctx context.Context, k cutover.IdempotencyKey, epoch int64, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("aws: extend lease %s: lease %v must be positive", keyString(k), lease)
	}
	now := time.Now()
	e := newExpr()
	set := "SET " + e.n(attrLease) + " = " + e.v(avN(now.Add(lease).UnixNano())) + ", " + e.n(attrUpdated) + " = " + e.v(avN(now.UnixNano())) +
		", " + e.n(attrTTL) + " = " + e.v(t.ttl(now))
	if err := t.holderWrite(ctx, k, epoch, set, e); err != nil {
		return fmt.Errorf("aws: extend lease %s: %w", keyString(k), err)
	}
	return nil
}

// Complete stores the outcome on the holder's event item and marks the key
// completed there. ErrFenced if a newer epoch holds the key;
// ErrAlreadyRecorded if it is completed.
func (t *Table) Complete(ctx context.Context, k cutover.IdempotencyKey, epoch int64, o *cutover.Outcome) error {
	if o == nil {
		return fmt.Errorf("aws: complete %s: outcome is nil", keyString(k))
	}
	if err := t.complete(ctx, k, epoch, o); err != nil {
		return fmt.Errorf("aws: complete %s: %w", keyString(k), err)
	}
	return nil
}

func (t *Table) complete(ctx context.Context, k cutover.IdempotencyKey, epoch int64, o *cutover.Outcome) error {
	rec, err := t.get(ctx, idemPK(k), skIdem)
	switch {
	case err != nil:
		return err
	case rec == nil:
		return cutover.ErrNotFound
	case rec.n(attrEpoch) != epoch:
		return fmt.Errorf("epoch %d, current %d: %w", epoch, rec.n(attrEpoch), cutover.ErrFenced)
	}
	data, err := encodeOutcome(o)
	if err != nil {
		return fmt.Errorf("outcome: %w", err)
	}
	sc := scopeOf(k)
	attr, val, _, err := t.packJSON(ctx, data, sc.out, sc.ref)
	if err != nil {
		return err
	}
	now := time.Now()
	tok := newToken()
	e := newExpr()
	_, err = t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(eventPK(rec.s(attrEvent)), skLog),
		UpdateExpression: ptr("SET " + e.n(attr) + " = " + e.v(val) + ", " + e.n(sc.done) + " = " + e.v(avS(sc.out+" "+sc.ref)) +
			", " + e.n(sc.tok) + " = " + e.v(avS(tok)) + ", " + e.n(attrTTL) + " = " + e.v(t.ttl(now))),
		ConditionExpression:                 ptr(completable(e, sc, epoch)),
		ExpressionAttributeNames:            e.attrNames(),
		ExpressionAttributeValues:           e.attrValues(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil
	}
	old, ok := conditionFailed(err)
	if !ok {
		return classified(err)
	}
	if err := notCompletable(old, sc, epoch, tok); err != errOtherCondition {
		return err
	}
	return fmt.Errorf("event item changed under the write: %w", cutover.ErrUnavailable)
}

// completable is the condition under which the holder of epoch may complete
// scope sc on an event item: not completed, and not fenced above epoch.
func completable(e *expr, sc scopeAttrs, epoch int64) string {
	return "attribute_not_exists(" + e.n(sc.done) + ") AND (attribute_not_exists(" + e.n(sc.fence) + ") OR " +
		e.n(sc.fence) + " <= " + e.v(avN(epoch)) + ")"
}

// errOtherCondition: the scope's conditions held; another part of the
// write's condition failed.
var errOtherCondition = errors.New("aws: another condition failed")

// notCompletable explains why a completing write failed, from the event
// item it found: nil when the completion there is this very write's (tok),
// retried after its answer was lost; errOtherCondition when the scope was
// completable.
func notCompletable(old item, sc scopeAttrs, epoch int64, tok string) error {
	switch {
	case old != nil && old.has(sc.done) && old.s(sc.tok) == tok:
		return nil
	case old != nil && old.has(sc.done):
		return cutover.ErrAlreadyRecorded
	case old != nil && old.n(sc.fence) > epoch:
		return fmt.Errorf("epoch %d, fenced at %d: %w", epoch, old.n(sc.fence), cutover.ErrFenced)
	}
	return errOtherCondition
}

// Release ends the lease so that the next claim takes the key at once, with
// the next epoch. Releasing a completed key is a no-op.
func (t *Table) Release(ctx context.Context, k cutover.IdempotencyKey, epoch int64) error {
	now := time.Now()
	e := newExpr()
	set := "SET " + e.n(attrLease) + " = " + e.v(avN(0)) + ", " + e.n(attrUpdated) + " = " + e.v(avN(now.UnixNano()))
	if err := t.holderWrite(ctx, k, epoch, set, e); err != nil {
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
		Key: k, Epoch: it.n(attrEpoch), PayloadHash: it.s(attrHash), EventID: it.s(attrEvent),
		LeaseUntil: fromNanos(it.n(attrLease)), UpdatedAt: fromNanos(it.n(attrUpdated)),
	}
	ev, err := t.get(ctx, eventPK(rec.EventID), skLog)
	if err == nil && ev != nil && ev.has(scopeOf(k).done) {
		rec.Completed, rec.LeaseUntil = true, time.Time{}
		rec.Outcome, err = t.completion(ctx, ev, scopeOf(k))
	}
	if err != nil {
		return nil, fmt.Errorf("aws: idempotency record %s: %w", keyString(k), err)
	}
	return rec, nil
}
