package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover"
)

type idemRow struct {
	hash       string
	eventID    string
	epoch      int64
	completed  bool
	leaseUntil int64
	outcome    []byte
	updatedAt  int64
}

const idemCols = `payload_hash, event_id, epoch, completed, lease_until, outcome, updated_at`

func (r *idemRow) dest() []any {
	return []any{&r.hash, &r.eventID, &r.epoch, &r.completed, &r.leaseUntil, &r.outcome, &r.updatedAt}
}

func (x *wtx) idem(k cutover.IdempotencyKey) (idemRow, bool, error) {
	var r idemRow
	ok, err := x.queryRow(`SELECT `+idemCols+` FROM idempotency WHERE workflow = ? AND step = ? AND key = ?`,
		[]any{k.Workflow, k.Step, k.Key}, r.dest()...)
	return r, ok, err
}

func keyString(k cutover.IdempotencyKey) string { return k.Workflow + "/" + k.Step + "/" + k.Key }

func checkKey(k cutover.IdempotencyKey) error {
	if k.Workflow == "" || k.Key == "" {
		return fmt.Errorf("key %s: workflow and key must be set", keyString(k))
	}
	return nil
}

// claimResult carries the stored outcome undecoded out of the writer, so
// that the caller's goroutine, not the writer, pays for decoding it.
type claimResult struct {
	claim   cutover.Claim
	outcome []byte
}

// Claim takes the lease on a key, or reports why not. See
// cutover.IdempotencyStore.
func (db *DB) Claim(ctx context.Context, req cutover.ClaimRequest) (cutover.Claim, error) {
	if err := checkKey(req.Key); err != nil {
		return cutover.Claim{}, fmt.Errorf("embedded: claim: %w", err)
	}
	if req.Lease <= 0 {
		return cutover.Claim{}, fmt.Errorf("embedded: claim %s: lease %v must be positive", keyString(req.Key), req.Lease)
	}
	k := req.Key
	res, err := write(ctx, db, func(x *wtx) (claimResult, error) {
		now := x.now.UnixNano()
		until := now + int64(req.Lease)
		// A new key is the common case: one statement.
		n, err := x.exec(`INSERT OR FAIL INTO idempotency (workflow, step, key, `+idemCols+`) VALUES (?, ?, ?, ?, ?, 1, 0, ?, NULL, ?)
			ON CONFLICT DO NOTHING`, k.Workflow, k.Step, k.Key, req.PayloadHash, req.EventID, until, now)
		if err != nil || n == 1 {
			return claimResult{claim: cutover.Claim{State: cutover.ClaimAcquired, Epoch: 1, EventID: req.EventID, LeaseUntil: fromNanos(until)}}, err
		}
		r, ok, err := x.idem(k)
		if err == nil && !ok {
			err = errors.New("the record vanished inside the transaction")
		}
		if err != nil {
			return claimResult{}, err
		}
		switch {
		case r.hash != req.PayloadHash:
			return claimResult{claim: cutover.Claim{State: cutover.ClaimConflict, EventID: r.eventID}}, nil
		case r.completed:
			return claimResult{claim: cutover.Claim{State: cutover.ClaimCompleted, Epoch: r.epoch, EventID: r.eventID}, outcome: r.outcome}, nil
		case r.leaseUntil > now:
			return claimResult{claim: cutover.Claim{State: cutover.ClaimBusy, EventID: r.eventID, LeaseUntil: fromNanos(r.leaseUntil)}}, nil
		}
		// The lease expired or was released: take over with the next epoch,
		// which fences the previous holder.
		_, err = x.exec(`UPDATE OR FAIL idempotency SET epoch = ?, event_id = ?, lease_until = ?, updated_at = ?
			WHERE workflow = ? AND step = ? AND key = ?`,
			r.epoch+1, req.EventID, until, now, k.Workflow, k.Step, k.Key)
		return claimResult{claim: cutover.Claim{State: cutover.ClaimAcquired, Epoch: r.epoch + 1, EventID: req.EventID, LeaseUntil: fromNanos(until)}}, err
	})
	if err != nil {
		return cutover.Claim{}, fmt.Errorf("embedded: claim %s: %w", keyString(k), err)
	}
	if res.outcome != nil {
		res.claim.Outcome = new(cutover.Outcome)
		if err := json.Unmarshal(res.outcome, res.claim.Outcome); err != nil {
			return cutover.Claim{}, fmt.Errorf("embedded: claim %s: stored outcome: %w", keyString(k), err)
		}
	}
	return res.claim, nil
}

// held runs update, which must change the key's row only if epoch holds it
// and it is not completed. If it changed nothing, held reads the row to
// refuse the op: ErrNotFound, ErrFenced, or onCompleted (nil: a no-op).
func (x *wtx) held(k cutover.IdempotencyKey, epoch int64, onCompleted error, update string, args ...any) error {
	n, err := x.exec(update, append(args, k.Workflow, k.Step, k.Key, epoch)...)
	if err != nil || n == 1 {
		return err
	}
	return x.notHeld(k, epoch, onCompleted)
}

// notHeld reads the key's row after an update of it changed nothing, and
// says why: a refusal, nil for a completed key with onCompleted nil, or an
// error if epoch does hold the key.
func (x *wtx) notHeld(k cutover.IdempotencyKey, epoch int64, onCompleted error) error {
	r, ok, err := x.idem(k)
	switch {
	case err != nil:
		return err
	case !ok:
		return refuse(cutover.ErrNotFound)
	case r.epoch != epoch:
		return refuse(fmt.Errorf("epoch %d, current %d: %w", epoch, r.epoch, cutover.ErrFenced))
	case r.completed && onCompleted != nil:
		return refuse(onCompleted)
	case r.completed:
		return nil
	}
	return fmt.Errorf("epoch %d holds the key but the update changed nothing", epoch)
}

const whereHeld = ` WHERE workflow = ? AND step = ? AND key = ? AND epoch = ? AND completed = 0`

// ExtendLease moves the lease end to lease from now. ErrFenced if a newer
// epoch took the key over. Extending a completed key is a no-op.
func (db *DB) ExtendLease(ctx context.Context, k cutover.IdempotencyKey, epoch int64, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("embedded: extend lease %s: lease %v must be positive", keyString(k), lease)
	}
	_, err := write(ctx, db, func(x *wtx) (struct{}, error) {
		now := x.now.UnixNano()
		return struct{}{}, x.held(k, epoch, nil, `UPDATE OR FAIL idempotency SET lease_until = ?, updated_at = ?`+whereHeld, now+int64(lease), now)
	})
	if err != nil {
		return fmt.Errorf("embedded: extend lease %s: %w", keyString(k), err)
	}
	return nil
}

// Complete stores the outcome and marks the key completed. ErrFenced if a
// newer epoch holds the key; ErrAlreadyRecorded if it is completed.
func (db *DB) Complete(ctx context.Context, k cutover.IdempotencyKey, epoch int64, o *cutover.Outcome) error {
	if o == nil {
		return fmt.Errorf("embedded: complete %s: outcome is nil", keyString(k))
	}
	data, err := encodeOutcome(o)
	if err != nil {
		return fmt.Errorf("embedded: complete %s: outcome: %w", keyString(k), err)
	}
	_, err = write(ctx, db, func(x *wtx) (struct{}, error) {
		return struct{}{}, x.held(k, epoch, cutover.ErrAlreadyRecorded,
			`UPDATE OR FAIL idempotency SET completed = 1, outcome = ?, lease_until = 0, updated_at = ?`+whereHeld, data, x.now.UnixNano())
	})
	if err != nil {
		return fmt.Errorf("embedded: complete %s: %w", keyString(k), err)
	}
	return nil
}

// Release ends the lease so that the next claim takes the key at once, with
// the next epoch. Releasing a completed key is a no-op.
func (db *DB) Release(ctx context.Context, k cutover.IdempotencyKey, epoch int64) error {
	_, err := write(ctx, db, func(x *wtx) (struct{}, error) {
		return struct{}{}, x.held(k, epoch, nil, `UPDATE OR FAIL idempotency SET lease_until = 0, updated_at = ?`+whereHeld, x.now.UnixNano())
	})
	if err != nil {
		return fmt.Errorf("embedded: release %s: %w", keyString(k), err)
	}
	return nil
}

// IdempotencyRecord returns the stored state of a key, or ErrNotFound.
func (db *DB) IdempotencyRecord(ctx context.Context, k cutover.IdempotencyKey) (*cutover.IdempotencyRecord, error) {
	var r idemRow
	ok, err := db.readRow(ctx, `SELECT `+idemCols+` FROM idempotency WHERE workflow = ? AND step = ? AND key = ?`,
		[]any{k.Workflow, k.Step, k.Key}, r.dest()...)
	if err == nil && !ok {
		err = cutover.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: idempotency record %s: %w", keyString(k), err)
	}
	rec := &cutover.IdempotencyRecord{
		Key: k, Completed: r.completed, Epoch: r.epoch, PayloadHash: r.hash, EventID: r.eventID,
		LeaseUntil: fromNanos(r.leaseUntil), UpdatedAt: fromNanos(r.updatedAt),
	}
	if r.outcome != nil {
		rec.Outcome = new(cutover.Outcome)
		if err := json.Unmarshal(r.outcome, rec.Outcome); err != nil {
			return nil, fmt.Errorf("embedded: idempotency record %s: stored outcome: %w", keyString(k), err)
		}
	}
	return rec, nil
}

// encodeOutcome is how an outcome is stored: its JSON (cutover.EncodeOutcome,
// the fast encoder), times in UTC.
func encodeOutcome(o *cutover.Outcome) ([]byte, error) { return cutover.EncodeOutcome(normOutcome(o)) }

// normOutcome returns o with its time in UTC, so that what is read back
// equals what was written.
func normOutcome(o *cutover.Outcome) *cutover.Outcome {
	c := *o
	if !c.At.IsZero() {
		c.At = c.At.UTC()
	}
	return &c
}
