package aws

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

// An object index item, pk AX#day (the UTC day the object was written),
// sk written-at#token (so the sweeper reads them in order), describes one archive object: its key (obj), its
// lowest and highest event ids (lo, hi) and receive times (atlo, athi), its
// workflows (wfs), a Bloom filter of its correlation ids (bf) and when it
// was written (ac), and how many legacy sides of deferred events it holds
// (lg). Items expire with the retention, like the objects'
// event items.

const (
	attrLowID       = "lo"
	attrHighID      = "hi"
	attrLowAt       = "atlo"
	attrHighAt      = "athi"
	attrWorkflows   = "wfs"
	attrBloom       = "bf"
	attrArchived    = "ac"
	attrLegacySides = "lg"
	pkObjectIndex   = "AX#"
	dayLayout       = "2006-01-02"
)

// legacyLine is the line after a deferred event's in its object: the
// legacy side of its pair.
type legacyLine struct {
	EventID  string           `json:"legacy_of"`
	Workflow string           `json:"workflow"`
	Epoch    int              `json:"epoch"`
	Outcome  *cutover.Outcome `json:"outcome"`
}

// legacyPrefix starts every legacy line (and no event line).
const legacyPrefix = `{"legacy_of":`

// flush writes one batch: the object, its index item, the manifest of the
// legacy sides it records, then every event item, in that order, so that
// nothing points at what is not written yet. It returns each request's
// result.
func (a *Archive) flush(ctx context.Context, batch []*archiveReq) []archiveResult {
	results := make([]archiveResult, len(batch))
	fail := func(err error) []archiveResult {
		for i := range results {
			results[i].err = err
		}
		return results
	}
	// One copy per id, the first; a registration's parts are merged in.
	at := map[string]int{}
	owners := map[string][]int{} // id -> requests that gave a legacy side
	askers := map[string][]int{} // id -> requests that archived it deferred
	var evs []archivedEvent
	for ri, r := range batch {
		for _, e := range r.evs {
			if e.deferred {
				askers[e.id] = append(askers[e.id], ri)
			}
			i, ok := at[e.id]
			if !ok {
				at[e.id] = len(evs)
				evs = append(evs, e)
				i = len(evs) - 1
			}
			if evs[i].first == nil {
				evs[i].first = e.first
			}
			if e.legacy != nil {
				if evs[i].legacy == nil {
					evs[i].legacy, evs[i].epoch = e.legacy, e.epoch
				}
				owners[e.id] = append(owners[e.id], ri)
			}
			// An event is written per event if any caller wants it.
			evs[i].deferred = evs[i].deferred && e.deferred
		}
	}
	var buf bytes.Buffer
	offsets := make([]int, len(evs))
	lo, hi := evs[0], evs[0]
	legacySides := 0
	for i, e := range evs {
		offsets[i] = buf.Len()
		buf.Write(e.line)
		buf.WriteByte('\n')
		if e.deferred && e.legacy != nil {
			line, err := marshal(legacyLine{EventID: e.id, Workflow: e.workflow, Epoch: e.epoch, Outcome: normOutcome(e.legacy)})
			if err != nil {
				return fail(fmt.Errorf("event %s: legacy outcome: %w", e.id, err))
			}
			buf.Write(line)
			buf.WriteByte('\n')
			legacySides++
		}
		if e.id < lo.id {
			lo = e
		}
		if e.id > hi.id {
			hi = e
		}
	}
	now := time.Now().UTC()
	tok := newToken()
	obj := archivePrefix + now.Format("2006/01/02/15/") + lo.id + "-" + tok + ".jsonl"
	if err := a.bucket.put(ctx, obj, buf.Bytes(), "application/x-ndjson"); err != nil {
		return fail(fmt.Errorf("object %s: %w", obj, err))
	}
	if err := a.indexObject(ctx, evs, obj, lo.id, hi.id, tok, legacySides, now); err != nil {
		return fail(err)
	}
	var unpaired []pairKey
	for i, e := range evs {
		for _, ri := range askers[e.id] {
			if results[ri].refs == nil {
				results[ri].refs = map[string]string{}
			}
			results[ri].refs[e.id] = e.pointer(obj, offsets[i]).String()
		}
		if e.deferred {
			continue
		}
		if e.legacy != nil {
			unpaired = append(unpaired, pairKey{e.id, e.epoch})
		}
	}
	if err := a.table.noteUnpaired(ctx, unpaired, now); err != nil {
		return fail(err)
	}
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, indexWriters)
	var wg sync.WaitGroup
	for i, e := range evs {
		if e.deferred {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			pair, err := a.startEvent(ctx, e, obj, offsets[i], now)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if pair != nil {
				for _, ri := range owners[e.id] {
					results[ri].pairs = append(results[ri].pairs, *pair)
					break // one comparer per pair
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return fail(firstErr)
	}
	return results
}

// indexObject writes the object's index item.
func (a *Archive) indexObject(ctx context.Context, evs []archivedEvent, obj, lo, hi, tok string, legacySides int, now time.Time) error {
	bf := newBloom(len(evs))
	wfs := map[string]bool{}
	atLo, atHi := evs[0].receivedAt, evs[0].receivedAt
	for _, e := range evs {
		bf.add(e.correlation)
		wfs[e.workflow] = true
		atLo, atHi = min(atLo, e.receivedAt), max(atHi, e.receivedAt)
	}
	names := make([]string, 0, len(wfs))
	for wf := range wfs {
		names = append(names, wf)
	}
	it := key(pkObjectIndex+now.Format(dayLayout), padNanos(now.UnixNano())+"#"+tok)
	it[attrObject] = avS(obj)
	it[attrLowID] = avS(lo)
	it[attrHighID] = avS(hi)
	it[attrLowAt] = avN(atLo)
	it[attrHighAt] = avN(atHi)
	it[attrWorkflows] = avSS(names...)
	it[attrBloom] = &types.AttributeValueMemberB{Value: bf}
	it[attrArchived] = avN(now.UnixNano())
	it[attrLegacySides] = avN(int64(legacySides))
	it[attrTTL] = a.table.ttl(now)
	if _, err := a.table.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &a.table.name, Item: it}); err != nil {
		return fmt.Errorf("object index %s: %w", obj, classified(err))
	}
	return nil
}

// keepAttr sets attr to v unless it is set: the first write stays.
func keepAttr(x *expr, attr string, v types.AttributeValue) string {
	return x.n(attr) + " = if_not_exists(" + x.n(attr) + ", " + x.v(v) + ")"
}

// startEvent records on the event item where the event is archived (the
// first archived copy stays), and for a registration entry 1 of its log
// (unless it has entries) and the legacy side of its pair (unless
// recorded). It returns the pair if that side completed it.
func (a *Archive) startEvent(ctx context.Context, e archivedEvent, obj string, off int, now time.Time) (*cutover.OutcomePair, error) {
	t := a.table
	var entries []string
	if e.first != nil {
		var err error
		if entries, err = logEntries([]cutover.Transition{*e.first}, now); err != nil {
			return nil, err
		}
	}
	var attr string
	var val types.AttributeValue
	pa := pairOf(e.epoch)
	if e.legacy != nil {
		data, err := encodeOutcome(e.legacy)
		if err != nil {
			return nil, fmt.Errorf("event %s: legacy outcome: %w", e.id, err)
		}
		if attr, val, _, err = t.packJSON(ctx, data, pa.legacy.out, pa.legacy.ref); err != nil {
			return nil, fmt.Errorf("event %s: %w", e.id, err)
		}
	}
	// The legacy side is first unless the event ran before (a publish
	// retried): then it completes the pair, or is there already.
	writeLegacy, asyncThere := e.legacy != nil, false
	tok := newToken()
	for try := 0; try < 4; try++ {
		x := newExpr()
		set := "SET " + e.pointer(obj, off).keep(x) +
			", " + keepAttr(x, attrWorkflow, avS(e.workflow)) + ", " + keepAttr(x, attrStep, avS(e.step)) + ", " + keepAttr(x, attrCorrelation, avS(e.correlation)) +
			", " + keepAttr(x, attrReceived, avN(e.receivedAt)) + ", " + x.n(attrTTL) + " = " + x.v(t.ttl(now))
		if entries != nil {
			set += ", " + keepAttr(x, attrVersion, avN(1)) + ", " + keepAttr(x, attrLog, avL(entries...)) + ", " + keepAttr(x, attrBase, avN(0))
		}
		in := &dynamodb.UpdateItemInput{TableName: &t.name, Key: key(eventPK(e.id), skLog)}
		if writeLegacy {
			set += ", " + x.n(attr) + " = " + x.v(val) + ", " + x.n(pa.legacy.tok) + " = " + x.v(avS(tok))
			if asyncThere {
				set += ", " + x.n(pa.compBy) + " = " + x.v(avS(tok))
				in.ReturnValues = types.ReturnValueAllNew
			} else {
				set += ", " + x.n(pa.created) + " = " + x.v(avN(now.UnixNano()))
			}
			in.ConditionExpression = ptr(sideAbsent(x, pa.legacy) + " AND " + sideIs(x, pa.async, asyncThere))
			in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
		}
		in.UpdateExpression = ptr(set)
		in.ExpressionAttributeNames, in.ExpressionAttributeValues = x.attrNames(), x.attrValues()
		out, err := t.client.UpdateItem(ctx, in)
		if err == nil {
			if !writeLegacy || !asyncThere {
				return nil, nil
			}
			p, err := t.decodePair(ctx, item(out.Attributes), e.epoch)
			if err != nil {
				return nil, fmt.Errorf("event %s: %w", e.id, err)
			}
			return &p, nil
		}
		old, ok := conditionFailed(err)
		switch {
		case !ok:
			return nil, fmt.Errorf("event %s: %w", e.id, classified(err))
		case old != nil && old.s(pa.legacy.tok) == tok:
			// Our own write, retried after its answer was lost.
			if old.s(pa.compBy) != tok {
				return nil, nil
			}
			p, err := t.decodePair(ctx, old, e.epoch)
			if err != nil {
				return nil, fmt.Errorf("event %s: %w", e.id, err)
			}
			return &p, nil
		case old != nil && old.hasSide(pa.legacy):
			writeLegacy = false // recorded before: left as it is
		default:
			asyncThere = old != nil && old.hasSide(pa.async)
		}
	}
	return nil, fmt.Errorf("event %s: the event item kept changing under this write: %w", e.id, cutover.ErrUnavailable)
}
