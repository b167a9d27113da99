package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

// An event's transition log is one item, pk E#event, sk L, holding its
// version (v) and its entries as a list of compact JSON strings (log). An
// append is one conditional update on the version, so a typical log
// (received, started, succeeded) costs one write unit per append. When the
// item would outgrow DynamoDB's 400 KB, the entries so far move to a chunk
// item (sk L#base, base being the version before its first entry) in the
// same transaction that starts the main item afresh; History reads the
// chunks and the main item in one Query.

const (
	skLog       = "L"
	attrVersion = "v"
	attrLog     = "log"
	attrBase    = "base"
)

// wireTransition is the stored form of one entry; Seq is its position.
type wireTransition struct {
	Kind    string `json:"k"`
	At      int64  `json:"t"`
	Attempt int    `json:"a,omitempty"`
	Epoch   int64  `json:"e,omitempty"`
	Delay   int64  `json:"d,omitempty"`
	Detail  string `json:"x,omitempty"`
	Worker  string `json:"w,omitempty"`
}

func eventPK(id string) string { return "E#" + esc(id) }

var _ cutover.TransitionLog = (*Table)(nil)

// Append adds ts after the expect-th entry of the event's log and returns the
// new version. ErrVersionConflict, writing nothing, if the log is not at
// expect.
func (t *Table) Append(ctx context.Context, eventID string, expect int, ts ...cutover.Transition) (int, error) {
	if eventID == "" {
		return 0, errors.New("aws: append: event id is empty")
	}
	if expect < 0 {
		return 0, fmt.Errorf("aws: append %s: version %d is negative", eventID, expect)
	}
	v, err := t.append(ctx, eventID, expect, ts)
	if err != nil {
		return v, fmt.Errorf("aws: append %s: %w", eventID, err)
	}
	return v, nil
}

func (t *Table) append(ctx context.Context, eventID string, expect int, ts []cutover.Transition) (int, error) {
	now := time.Now()
	if len(ts) == 0 {
		cur, err := t.logVersion(ctx, eventID)
		if err == nil && cur != expect {
			err = fmt.Errorf("at version %d, not %d: %w", cur, expect, cutover.ErrVersionConflict)
		}
		return cur, err
	}
	entries, err := logEntries(ts, now)
	if err != nil {
		return 0, err
	}
	next := expect + len(ts)
	tok := newToken()
	e := newExpr()
	cond := "attribute_not_exists(" + e.n(attrVersion) + ")"
	if expect > 0 {
		cond = e.n(attrVersion) + " = " + e.v(avN(int64(expect)))
	}
	_, err = t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(eventPK(eventID), skLog),
		UpdateExpression: ptr("SET " + e.n(attrVersion) + " = " + e.v(avN(int64(next))) +
			", " + e.n(attrLog) + " = list_append(if_not_exists(" + e.n(attrLog) + ", " + e.v(avL()) + "), " + e.v(avL(entries...)) + ")" +
			", " + e.n(attrBase) + " = if_not_exists(" + e.n(attrBase) + ", " + e.v(avN(0)) + ")" +
			", " + e.n(attrToken) + " = " + e.v(avS(tok)) + ", " + e.n(attrTTL) + " = " + e.v(t.ttl(now))),
		ConditionExpression:                 ptr(cond),
		ExpressionAttributeNames:            e.attrNames(),
		ExpressionAttributeValues:           e.attrValues(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return next, nil
	}
	if old, ok := conditionFailed(err); ok {
		if old != nil && old.s(attrToken) == tok && int(old.n(attrVersion)) == next {
			return next, nil // our write, retried after its answer was lost
		}
		cur := 0
		if old != nil {
			cur = int(old.n(attrVersion))
		}
		return cur, fmt.Errorf("at version %d, not %d: %w", cur, expect, cutover.ErrVersionConflict)
	}
	if itemTooLarge(err) {
		return t.rollLog(ctx, eventID, expect, entries, now)
	}
	return 0, classified(err)
}

// itemTooLarge reports whether err says an item would exceed 400 KB.
func itemTooLarge(err error) bool {
	return errorCode(err) == "ValidationException" && strings.Contains(strings.ToLower(err.Error()), "size")
}

// rollLog moves the main item's entries to a chunk item and starts the main
// item afresh with entries, in one transaction conditional on the version.
func (t *Table) rollLog(ctx context.Context, eventID string, expect int, entries []string, now time.Time) (int, error) {
	main, err := t.get(ctx, eventPK(eventID), skLog)
	if err != nil {
		return 0, err
	}
	cur := 0
	if main != nil {
		cur = int(main.n(attrVersion))
	}
	if main == nil || cur != expect {
		return cur, fmt.Errorf("at version %d, not %d: %w", cur, expect, cutover.ErrVersionConflict)
	}
	base := main.n(attrBase)
	chunk := key(eventPK(eventID), skLog+"#"+padInt(base, 10))
	chunk[attrBase] = avN(base)
	chunk[attrLog] = avL(main.list(attrLog)...)
	chunk[attrTTL] = t.ttl(now)
	next := expect + len(entries)
	tok := newToken()
	ce, me := newExpr(), newExpr()
	_, err = t.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &t.name, Item: chunk,
			ConditionExpression: ptr("attribute_not_exists(" + ce.n(attrPK) + ")"), ExpressionAttributeNames: ce.attrNames()}},
		{Update: &types.Update{TableName: &t.name, Key: key(eventPK(eventID), skLog),
			UpdateExpression: ptr("SET " + me.n(attrVersion) + " = " + me.v(avN(int64(next))) + ", " + me.n(attrLog) + " = " + me.v(avL(entries...)) +
				", " + me.n(attrBase) + " = " + me.v(avN(int64(expect))) + ", " + me.n(attrToken) + " = " + me.v(avS(tok)) +
				", " + me.n(attrTTL) + " = " + me.v(t.ttl(now))),
			ConditionExpression:                 ptr(me.n(attrVersion) + " = " + me.v(avN(int64(expect)))),
			ExpressionAttributeNames:            me.attrNames(),
			ExpressionAttributeValues:           me.attrValues(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
	}})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		if rs := canceled.CancellationReasons; len(rs) == 2 && item(rs[1].Item).s(attrToken) == tok {
			return next, nil // our transaction, retried after its answer was lost
		}
		return cur, fmt.Errorf("log moved on while rolling it over: %w", cutover.ErrVersionConflict)
	}
	if err != nil {
		return 0, classified(err)
	}
	return next, nil
}

// logVersion is the version of an event's log (0: none).
func (t *Table) logVersion(ctx context.Context, eventID string) (int, error) {
	it, err := t.get(ctx, eventPK(eventID), skLog)
	if err != nil || it == nil {
		return 0, err
	}
	return int(it.n(attrVersion)), nil
}

// History returns the event's transitions in order; none (and no error) for
// an unknown event.
func (t *Table) History(ctx context.Context, eventID string) ([]cutover.Transition, error) {
	var parts []item
	e := newExpr()
	err := t.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression: ptr(e.n(attrPK) + " = " + e.v(avS(eventPK(eventID))) +
			" AND begins_with(" + e.n(attrSK) + ", " + e.v(avS(skLog)) + ")"),
		ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(), ConsistentRead: ptr(true),
	}, func(it item) bool {
		parts = append(parts, it)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("aws: history %s: %w", eventID, err)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].n(attrBase) < parts[j].n(attrBase) })
	var ts []cutover.Transition
	for _, p := range parts {
		base := int(p.n(attrBase))
		for i, s := range p.list(attrLog) {
			var w wireTransition
			if err := json.Unmarshal([]byte(s), &w); err != nil {
				return nil, fmt.Errorf("aws: history %s: entry %d: %w", eventID, base+i+1, err)
			}
			ts = append(ts, cutover.Transition{Seq: base + i + 1, Kind: cutover.TransitionKind(w.Kind), At: fromNanos(w.At),
				Attempt: w.Attempt, Epoch: w.Epoch, Delay: cutover.Duration(w.Delay), Detail: w.Detail, Worker: w.Worker})
		}
	}
	return ts, nil
}

// startParallel bounds the concurrent first-entry writes of StartLogs.
const startParallel = 16

// StartLogs implements cutover.LogStarter. DynamoDB has no conditional
// batch write, so each log's first entry is its own conditional write; they
// run concurrently, and a log that exists already is left as it is.
func (t *Table) StartLogs(ctx context.Context, first []cutover.LogStart) error {
	sem := make(chan struct{}, startParallel)
	errs := make(chan error, len(first))
	for _, f := range first {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := t.Append(ctx, f.EventID, 0, f.Transition)
			if errors.Is(err, cutover.ErrVersionConflict) {
				err = nil
			}
			errs <- err
		}()
	}
	var all []error
	for range first {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}
