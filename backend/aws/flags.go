package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

// Flags live in one partition, pk F, sk workflow, with their JSON (data) and
// version (ver); each workflow's history in pk FH#workflow, sk version.
// Neither expires. A proxy refreshing its snapshot every second reads the
// flags with one strongly consistent Query.

const (
	pkFlags     = "F"
	attrFlagVer = "ver"
)

func flagHistoryPK(workflow string) string { return "FH#" + esc(workflow) }

var _ cutover.FlagStore = (*Table)(nil)

// Flags returns every flag, ordered by workflow.
func (t *Table) Flags(ctx context.Context) ([]cutover.Flag, error) {
	var fs []cutover.Flag
	var derr error
	e := newExpr()
	err := t.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:   ptr(e.n(attrPK) + " = " + e.v(avS(pkFlags))),
		ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(), ConsistentRead: ptr(true),
	}, func(it item) bool {
		var f cutover.Flag
		if derr = json.Unmarshal([]byte(it.s(attrData)), &f); derr != nil {
			return false
		}
		fs = append(fs, f)
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("aws: flags: %w", err)
	}
	return fs, nil
}

// Flag returns the flag of workflow, or ErrNotFound.
func (t *Table) Flag(ctx context.Context, workflow string) (cutover.Flag, error) {
	it, err := t.get(ctx, pkFlags, workflow)
	if err == nil && it == nil {
		err = cutover.ErrNotFound
	}
	var f cutover.Flag
	if err == nil {
		err = json.Unmarshal([]byte(it.s(attrData)), &f)
	}
	if err != nil {
		return cutover.Flag{}, fmt.Errorf("aws: flag %s: %w", workflow, err)
	}
	return f, nil
}

// SetFlag writes f if the stored version is f.Version-1 (0: no flag yet) and
// appends change to the history, in one transaction. change.Workflow and
// change.Version are set from f; a zero change.At from f.UpdatedAt.
func (t *Table) SetFlag(ctx context.Context, f cutover.Flag, change cutover.FlagChange) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("aws: set flag: %w", err)
	}
	if f.Version < 1 {
		return fmt.Errorf("aws: set flag %s: write of version %d: %w", f.Workflow, f.Version, cutover.ErrVersionConflict)
	}
	f.UpdatedAt = f.UpdatedAt.UTC()
	change.Workflow, change.Version = f.Workflow, f.Version
	if change.At.IsZero() {
		change.At = f.UpdatedAt
	}
	change.At = change.At.UTC()
	fdata, err := marshal(f)
	if err != nil {
		return fmt.Errorf("aws: set flag %s: %w", f.Workflow, err)
	}
	cdata, err := marshal(change)
	if err != nil {
		return fmt.Errorf("aws: set flag %s: history: %w", f.Workflow, err)
	}
	tok := newToken()
	flag := key(pkFlags, f.Workflow)
	flag[attrData] = avS(string(fdata))
	flag[attrFlagVer] = avN(f.Version)
	flag[attrToken] = avS(tok)
	hist := key(flagHistoryPK(f.Workflow), padInt(f.Version, 20))
	hist[attrData] = avS(string(cdata))
	fe, he := newExpr(), newExpr()
	var cond string
	if f.Version > 1 {
		cond = fe.n(attrFlagVer) + " = " + fe.v(avN(f.Version-1))
	} else {
		cond = "attribute_not_exists(" + fe.n(attrPK) + ")"
	}
	_, err = t.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &t.name, Item: flag, ConditionExpression: ptr(cond),
			ExpressionAttributeNames: fe.attrNames(), ExpressionAttributeValues: fe.attrValues(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
		{Put: &types.Put{TableName: &t.name, Item: hist, ConditionExpression: ptr("attribute_not_exists(" + he.n(attrPK) + ")"),
			ExpressionAttributeNames: he.attrNames()}},
	}})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		if len(canceled.CancellationReasons) > 0 {
			old := item(canceled.CancellationReasons[0].Item)
			if old.s(attrToken) == tok {
				return nil // our transaction, retried after its answer was lost
			}
			if deref(canceled.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
				return fmt.Errorf("aws: set flag %s: stored version %d, write of version %d: %w", f.Workflow, old.n(attrFlagVer), f.Version, cutover.ErrVersionConflict)
			}
		}
		for _, r := range canceled.CancellationReasons {
			if deref(r.Code) == "ConditionalCheckFailed" {
				return fmt.Errorf("aws: set flag %s: version %d is in the history already: %w", f.Workflow, f.Version, cutover.ErrVersionConflict)
			}
			if deref(r.Code) == "TransactionConflict" {
				return fmt.Errorf("aws: set flag %s: a concurrent change: %w", f.Workflow, cutover.ErrVersionConflict)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("aws: set flag %s: %w", f.Workflow, classified(err))
	}
	return nil
}

// FlagHistory returns the changes of workflow's flag, oldest first.
func (t *Table) FlagHistory(ctx context.Context, workflow string) ([]cutover.FlagChange, error) {
	var cs []cutover.FlagChange
	var derr error
	e := newExpr()
	err := t.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:   ptr(e.n(attrPK) + " = " + e.v(avS(flagHistoryPK(workflow)))),
		ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(), ConsistentRead: ptr(true),
	}, func(it item) bool {
		var c cutover.FlagChange
		if derr = json.Unmarshal([]byte(it.s(attrData)), &c); derr != nil {
			return false
		}
		cs = append(cs, c)
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("aws: flag history %s: %w", workflow, err)
	}
	return cs, nil
}
