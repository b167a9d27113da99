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

// A comparison is one item, pk E#event, sk C#epoch: its JSON (data, or
// dataref in S3), workflow, verdict (vd), compared_at in Unix nanoseconds
// (ca) and epoch (ep), indexed by gsi1 CW#workflow / event. SaveComparison
// writes it and folds it into the aggregate counters in one transaction
// (see aggregates.go), so both or neither are stored.

const (
	attrData     = "data"
	attrDataRef  = "dataref"
	attrVerdict  = "vd"
	attrCompared = "ca"
	txMaxItems   = 100 // TransactWriteItems limit
	txTries      = 8   // rounds against concurrent transactions on one counter
)

func comparisonSK(epoch int) string { return "C#" + padEpoch(epoch) }

var _ cutover.ComparisonStore = (*Table)(nil)

// SaveComparison stores c and folds it into its workflow/epoch/minute
// aggregate, both or neither. ErrAlreadyRecorded, changing nothing, if
// (EventID, Epoch) was compared before. A zero ComparedAt is set to now.
func (t *Table) SaveComparison(ctx context.Context, c *cutover.Comparison) error {
	if c == nil || c.EventID == "" || c.Workflow == "" {
		return errors.New("aws: save comparison: event id and workflow must be set")
	}
	if !c.Verdict.Valid() {
		return fmt.Errorf("aws: save comparison %s/%d: verdict %q is unknown", c.EventID, c.Epoch, c.Verdict)
	}
	if c.Epoch < 0 {
		return fmt.Errorf("aws: save comparison %s/%d: epoch is negative", c.EventID, c.Epoch)
	}
	if err := t.saveComparison(ctx, c); err != nil {
		return fmt.Errorf("aws: save comparison %s/%d: %w", c.EventID, c.Epoch, err)
	}
	return nil
}

func (t *Table) saveComparison(ctx context.Context, c *cutover.Comparison) error {
	cc := *c
	now := time.Now()
	if cc.ComparedAt.IsZero() {
		cc.ComparedAt = now
	}
	cc.ComparedAt = cc.ComparedAt.UTC()
	data, err := marshal(&cc)
	if err != nil {
		return err
	}
	attr, val, _, err := t.packJSON(ctx, data, attrData, attrDataRef)
	if err != nil {
		return err
	}
	for _, kind := range []string{regComparisons, regAggregates} {
		if err := t.register(ctx, kind, cc.Workflow); err != nil {
			return err
		}
	}
	fold, err := t.planFold(ctx, &cc)
	if err != nil {
		return err
	}
	tok := newToken()
	it := key(eventPK(cc.EventID), comparisonSK(cc.Epoch))
	it[attr] = val
	it[attrWorkflow] = avS(cc.Workflow)
	it[attrVerdict] = avS(string(cc.Verdict))
	it[attrCompared] = avN(cc.ComparedAt.UnixNano())
	it[attrEpoch] = avN(int64(cc.Epoch))
	it[attrG1PK] = avS("CW#" + esc(cc.Workflow))
	it[attrG1SK] = avS(cc.EventID)
	it[attrToken] = avS(tok)
	it[attrTTL] = t.ttl(now)
	e := newExpr()
	put := types.TransactWriteItem{Put: &types.Put{
		TableName: &t.name, Item: it,
		ConditionExpression:                 ptr("attribute_not_exists(" + e.n(attrPK) + ")"),
		ExpressionAttributeNames:            e.attrNames(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
	updates := fold.counterUpdates(t, now)
	// One transaction holds at most 100 items; a comparison that differs in
	// more paths than fit folds the rest in follow-up transactions.
	first := append([]types.TransactWriteItem{put}, updates[:min(len(updates), txMaxItems-1)]...)
	if err := t.transact(ctx, first, tok); err != nil {
		return err
	}
	for rest := updates[min(len(updates), txMaxItems-1):]; len(rest) > 0; {
		n := min(len(rest), txMaxItems)
		if err := t.transact(ctx, rest[:n], ""); err != nil {
			return fmt.Errorf("folding the remaining paths: %w", err)
		}
		rest = rest[n:]
	}
	fold.exemplars(ctx, t, now)
	return nil
}

// transact runs one transaction, retrying while it loses to concurrent
// transactions on the same items. A failed condition on the first item
// (the write-once record) is ErrAlreadyRecorded, unless the record carries
// tok: then it is this very transaction, retried after its answer was lost.
func (t *Table) transact(ctx context.Context, items []types.TransactWriteItem, tok string) error {
	for round := 1; ; round++ {
		_, err := t.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) {
			return classified(err)
		}
		retry := false
		for i, r := range canceled.CancellationReasons {
			switch deref(r.Code) {
			case "ConditionalCheckFailed":
				if i == 0 && tok != "" && item(r.Item).s(attrToken) == tok {
					return nil
				}
				return cutover.ErrAlreadyRecorded
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
				retry = true
			}
		}
		if !retry || round >= txTries {
			return classified(err)
		}
		if err := sleep(ctx, t.backoff.delay(round, false)); err != nil {
			return err
		}
	}
}

// Comparison returns the comparison of eventID in epoch, or ErrNotFound.
func (t *Table) Comparison(ctx context.Context, eventID string, epoch int) (*cutover.Comparison, error) {
	it, err := t.get(ctx, eventPK(eventID), comparisonSK(epoch))
	if err == nil && it == nil {
		err = cutover.ErrNotFound
	}
	var c *cutover.Comparison
	if err == nil {
		c, err = t.decodeComparison(ctx, it)
	}
	if err != nil {
		return nil, fmt.Errorf("aws: comparison %s/%d: %w", eventID, epoch, err)
	}
	return c, nil
}

func (t *Table) decodeComparison(ctx context.Context, it item) (*cutover.Comparison, error) {
	data, ok, err := t.unpackJSON(ctx, it, attrData, attrDataRef)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("comparison item without data")
	}
	c := new(cutover.Comparison)
	if err := json.Unmarshal(data, c); err != nil {
		return nil, err
	}
	return c, nil
}

// indexRef is one entry of an index query: the base item's key and what it
// sorts by.
type indexRef struct {
	id    string
	epoch int
	pk    string
	sk    string
}

// Comparisons returns the comparisons q selects, ordered by event id and
// epoch. ComparedAt is filtered on [Since, Until). Without a workflow it
// merges the workflows that have comparisons.
func (t *Table) Comparisons(ctx context.Context, q cutover.ComparisonQuery) ([]*cutover.Comparison, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultMax
	}
	wfs := []string{q.Workflow}
	if q.Workflow == "" {
		var err error
		if wfs, err = t.workflows(ctx, regComparisons); err != nil {
			return nil, fmt.Errorf("aws: comparisons: %w", err)
		}
	}
	var refs []indexRef
	for _, wf := range wfs {
		e := newExpr()
		kc := e.n(attrG1PK) + " = " + e.v(avS("CW#"+esc(wf)))
		if q.AfterID != "" {
			kc += " AND " + e.n(attrG1SK) + " > " + e.v(avS(q.AfterID))
		}
		var filters []string
		if q.Verdict != "" {
			filters = append(filters, e.n(attrVerdict)+" = "+e.v(avS(string(q.Verdict))))
		}
		if q.Epoch >= 0 {
			filters = append(filters, e.n(attrEpoch)+" = "+e.v(avN(int64(q.Epoch))))
		}
		if !q.Since.IsZero() {
			filters = append(filters, e.n(attrCompared)+" >= "+e.v(avN(q.Since.UnixNano())))
		}
		if !q.Until.IsZero() {
			filters = append(filters, e.n(attrCompared)+" < "+e.v(avN(q.Until.UnixNano())))
		}
		got, err := t.indexQuery(ctx, indexGSI1, kc, filters, e, limit, func(it item) indexRef {
			return indexRef{id: it.s(attrG1SK), epoch: int(it.n(attrEpoch)), pk: it.s(attrPK), sk: it.s(attrSK)}
		})
		if err != nil {
			return nil, fmt.Errorf("aws: comparisons: %w", err)
		}
		refs = append(refs, got...)
	}
	refs = firstRefs(refs, limit)
	keys := make([]item, len(refs))
	for i, r := range refs {
		keys[i] = key(r.pk, r.sk)
	}
	got, err := t.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("aws: comparisons: %w", err)
	}
	out := make([]*cutover.Comparison, 0, len(refs))
	for _, r := range refs {
		it, ok := got[r.pk+"\x00"+r.sk]
		if !ok {
			continue // expired since the index was read
		}
		c, err := t.decodeComparison(ctx, it)
		if err != nil {
			return nil, fmt.Errorf("aws: comparisons: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// indexQuery queries a GSI in order and returns the first limit matches,
// plus any further ones with the same id as the last (so that sorting by
// id and then epoch is exact).
func (t *Table) indexQuery(ctx context.Context, index, keyCond string, filters []string, e *expr, limit int, ref func(item) indexRef) ([]indexRef, error) {
	in := &dynamodb.QueryInput{
		IndexName: ptr(index), KeyConditionExpression: ptr(keyCond),
		ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
		Limit: ptr(int32(min(limit+1, queryPage))),
	}
	if len(filters) > 0 {
		in.FilterExpression = ptr(strings.Join(filters, " AND "))
	}
	var refs []indexRef
	err := t.query(ctx, in, func(it item) bool {
		r := ref(it)
		if len(refs) >= limit && r.id != refs[len(refs)-1].id {
			return false
		}
		refs = append(refs, r)
		return true
	})
	return refs, err
}

// firstRefs sorts refs by id and epoch and keeps the first limit.
func firstRefs(refs []indexRef, limit int) []indexRef {
	sort.SliceStable(refs, func(i, j int) bool {
		if refs[i].id != refs[j].id {
			return refs[i].id < refs[j].id
		}
		return refs[i].epoch < refs[j].epoch
	})
	if len(refs) > limit {
		refs = refs[:limit]
	}
	return refs
}
