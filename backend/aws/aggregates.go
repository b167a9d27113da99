package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

// Aggregates are stored so that concurrent comparisons never read-modify-
// write a shared item: counts are atomic ADDs, and the bounded parts of
// cutover.Aggregate (the first examples, the distinct values, the capped
// sets of paths and fingerprints) are conditional appends that stop at
// their bound. Read back, they equal cutover.Aggregate.Add folding the
// comparisons in the order their writes were applied.
//
// Counters live in AggregateShards partitions G#workflow#shard (a
// comparison picks its shard by event id), under sort keys
// minute#epoch#C (verdict and latency bucket counters), minute#epoch#P#path
// and minute#epoch#F#fingerprint (counts). Exemplars live in G#workflow#x:
// minute#epoch#R (the tracked path and fingerprint sets), #E#path (examples
// and value hashes) and #G#fingerprint (example and paths). Counters are
// written in SaveComparison's transaction; exemplars right after it, and a
// process remembers which are full so it stops writing them.

const (
	attrCount    = "n"
	attrExamples = "ex"
	attrValues   = "vals"
	attrPaths    = "paths"
	attrTracked  = "ps"
	attrPrints   = "fs"
	attrMinute   = "mn"
	verdictAttr  = "v_"
	legacyAttr   = "l"
	asyncAttr    = "a"
	aggPrefixLen = 20 + 1 + 10 + 1 // minute#epoch#
	maxAggMemos  = 512
)

// aggID names one aggregate.
type aggID struct {
	workflow string
	epoch    int
	minute   int64
}

func (a aggID) prefix() string { return padNanos(a.minute) + "#" + padEpoch(a.epoch) + "#" }
func (a aggID) exemplarPK() string {
	return "G#" + esc(a.workflow) + "#x"
}
func (a aggID) counterPK(shard int) string {
	return "G#" + esc(a.workflow) + "#" + strconv.Itoa(shard)
}

// aggMemo is what this process learnt about one aggregate's bounded parts.
// Everything in it only ever grows in the table, so it stays true.
type aggMemo struct {
	mu        sync.Mutex
	tracked   map[string]bool // path -> tracked (true) or folded into OtherPaths (false)
	pathsFull bool
	prints    map[string]bool
	printFull bool
	exFull    map[string]bool            // path -> examples at MaxExamples
	values    map[string]map[string]bool // path -> value hashes known to be stored
	valsFull  map[string]bool
	printEx   map[string]bool // fingerprint -> example stored
}

type aggCache struct {
	mu      sync.Mutex
	entries map[aggID]*aggMemo
}

func (c *aggCache) memo(id aggID) *aggMemo {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.entries[id]
	if !ok {
		if len(c.entries) >= maxAggMemos {
			clear(c.entries) // old minutes; what is dropped is relearnt
		}
		m = &aggMemo{tracked: map[string]bool{}, prints: map[string]bool{}, exFull: map[string]bool{},
			values: map[string]map[string]bool{}, valsFull: map[string]bool{}, printEx: map[string]bool{}}
		c.entries[id] = m
	}
	return m
}

// fold is one comparison's planned change to its aggregate.
type fold struct {
	id     aggID
	c      *cutover.Comparison
	shard  int
	legacy int // latency bucket, -1 if none
	async  int
	counts map[string]int64 // path (or OtherPaths) -> diffs
	order  []string         // paths in the order Add meets them, one per diff
	values []string         // the value hash of each diff
	print  string           // "" if none or not tracked
	paths  []string         // c.Paths()
	memo   *aggMemo
}

// planFold decides, as Add would, which paths are tracked and whether the
// fingerprint is, registering new ones in the aggregate's capped sets.
func (t *Table) planFold(ctx context.Context, c *cutover.Comparison) (*fold, error) {
	id := aggID{workflow: c.Workflow, epoch: c.Epoch, minute: cutover.MinuteOf(c.ComparedAt).UnixNano()}
	f := &fold{id: id, c: c, shard: shardOf(c.EventID, t.shards), legacy: -1, async: -1, counts: map[string]int64{}, memo: t.aggs.memo(id)}
	if c.LegacyLatency > 0 {
		f.legacy = bucketOf(c.LegacyLatency.D())
	}
	if c.AsyncLatency > 0 {
		f.async = bucketOf(c.AsyncLatency.D())
	}
	if len(c.Diffs) == 0 {
		return f, nil
	}
	for _, d := range c.Diffs {
		p := d.Path
		tracked, err := t.track(ctx, f, attrTracked, p)
		if err != nil {
			return nil, err
		}
		if !tracked {
			p = cutover.OtherPaths
		}
		f.counts[p]++
		f.order = append(f.order, p)
		f.values = append(f.values, valueHash(d.Async))
	}
	f.paths = c.Paths()
	fp := cutover.Fingerprint(f.paths)
	tracked, err := t.track(ctx, f, attrPrints, fp)
	if err != nil {
		return nil, err
	}
	if tracked {
		f.print = fp
	}
	return f, nil
}

// track reports whether member is in the aggregate's capped set (paths or
// fingerprints), adding it if the set has room.
func (t *Table) track(ctx context.Context, f *fold, set, member string) (bool, error) {
	m := f.memo
	m.mu.Lock()
	known, full := m.tracked, m.pathsFull
	if set == attrPrints {
		known, full = m.prints, m.printFull
	}
	v, ok := known[member]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	if full {
		return false, nil
	}
	e := newExpr()
	// Set members carry a prefix: a set cannot hold an empty string.
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(f.id.exemplarPK(), f.id.prefix()+"R"),
		UpdateExpression: ptr("ADD " + e.n(set) + " " + e.v(avSS("m"+member)) + " SET " + e.n(attrTTL) + " = " + e.v(t.ttl(time.Now()))),
		ConditionExpression: ptr("attribute_not_exists(" + e.n(set) + ") OR size(" + e.n(set) + ") < " + e.v(avN(cutover.MaxPathsTracked)) +
			" OR contains(" + e.n(set) + ", " + e.v(avS("m"+member)) + ")"),
		ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
	})
	tracked := err == nil
	if _, ok := conditionFailed(err); !ok && err != nil {
		return false, fmt.Errorf("aggregate: %w", classified(err))
	}
	m.mu.Lock()
	if set == attrPrints {
		m.prints[member] = tracked
		m.printFull = m.printFull || !tracked
	} else {
		m.tracked[member] = tracked
		m.pathsFull = m.pathsFull || !tracked
	}
	m.mu.Unlock()
	return tracked, nil
}

// counterUpdates are the atomic counter writes of the fold, for the
// transaction that also writes the comparison.
func (f *fold) counterUpdates(t *Table, now time.Time) []types.TransactWriteItem {
	update := func(pk, sk string, adds map[string]int64, sets map[string]types.AttributeValue) types.TransactWriteItem {
		e := newExpr()
		names := make([]string, 0, len(adds))
		for a := range adds {
			names = append(names, a)
		}
		sort.Strings(names)
		var add []string
		for _, a := range names {
			add = append(add, e.n(a)+" "+e.v(avN(adds[a])))
		}
		set := []string{e.n(attrTTL) + " = " + e.v(t.ttl(now))}
		for a, v := range sets {
			set = append(set, e.n(a)+" = "+e.v(v))
		}
		sort.Strings(set)
		return types.TransactWriteItem{Update: &types.Update{
			TableName: &t.name, Key: key(pk, sk),
			UpdateExpression:         ptr("ADD " + strings.Join(add, ", ") + " SET " + strings.Join(set, ", ")),
			ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
		}}
	}
	pk := f.id.counterPK(f.shard)
	core := map[string]int64{verdictAttr + string(f.c.Verdict): 1}
	if f.legacy >= 0 {
		core[legacyAttr+strconv.Itoa(f.legacy)] = 1
	}
	if f.async >= 0 {
		core[asyncAttr+strconv.Itoa(f.async)] = 1
	}
	items := []types.TransactWriteItem{update(pk, f.id.prefix()+"C", core, nil)}
	paths := make([]string, 0, len(f.counts))
	for p := range f.counts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		items = append(items, update(pk, f.id.prefix()+"P#"+p, map[string]int64{attrCount: f.counts[p]}, nil))
	}
	if f.print != "" {
		items = append(items, update(pk, f.id.prefix()+"F#"+f.print, map[string]int64{attrCount: 1}, nil))
	}
	return items
}

// exemplars appends the fold's examples and values and sets the
// fingerprint's example, each a conditional write that stops at its
// bound. They are best effort after the counters were committed: a failure
// is logged, and costs an example, not a count.
func (f *fold) exemplars(ctx context.Context, t *Table, now time.Time) {
	m := f.memo
	for i, p := range f.order {
		m.mu.Lock()
		needEx := !m.exFull[p]
		vals := m.values[p]
		needVal := !m.valsFull[p] && !vals[f.values[i]]
		m.mu.Unlock()
		if needEx {
			// Distinct, so that a write retried after its answer was lost
			// does not list the event twice.
			if ok, err := t.appendBounded(ctx, f.id, p, attrExamples, f.c.EventID, cutover.MaxExamples, true, now); err != nil {
				t.log.Warn("aggregate example not stored", "workflow", f.id.workflow, "path", p, "err", err)
			} else if !ok {
				m.mu.Lock()
				m.exFull[p] = true
				m.mu.Unlock()
			}
		}
		if needVal {
			t.storeValue(ctx, f, p, f.values[i], now)
		}
	}
	if f.print == "" {
		return
	}
	m.mu.Lock()
	done := m.printEx[f.print]
	m.mu.Unlock()
	if done {
		return
	}
	e := newExpr()
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(f.id.exemplarPK(), f.id.prefix()+"G#"+f.print),
		UpdateExpression: ptr("SET " + e.n(attrExamples) + " = " + e.v(avS(f.c.EventID)) + ", " + e.n(attrPaths) + " = " + e.v(avL(f.paths...)) +
			", " + e.n(attrTTL) + " = " + e.v(t.ttl(now))),
		ConditionExpression:      ptr("attribute_not_exists(" + e.n(attrExamples) + ")"),
		ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
	})
	if _, refused := conditionFailed(err); err == nil || refused {
		m.mu.Lock()
		m.printEx[f.print] = true
		m.mu.Unlock()
	} else {
		t.log.Warn("aggregate fingerprint example not stored", "workflow", f.id.workflow, "err", err)
	}
}

// storeValue appends the value hash h to path's distinct values, and
// remembers whether the list is full or holds h.
func (t *Table) storeValue(ctx context.Context, f *fold, path, h string, now time.Time) {
	ok, err := t.appendBounded(ctx, f.id, path, attrValues, h, cutover.MaxValuesTracked, true, now)
	full := false
	if err == nil && !ok {
		// Refused: the list is full or already holds h; a read settles it.
		full, err = t.valuesFull(ctx, f.id, path, h)
	}
	if err != nil {
		t.log.Warn("aggregate value not stored", "workflow", f.id.workflow, "path", path, "err", err)
		return
	}
	m := f.memo
	m.mu.Lock()
	defer m.mu.Unlock()
	if full {
		m.valsFull[path] = true
		return
	}
	if m.values[path] == nil {
		m.values[path] = map[string]bool{}
	}
	m.values[path][h] = true
}

// appendBounded appends v to the list attr of path's exemplar item unless
// the list holds bound entries (or, if distinct, already holds v). It
// reports whether v was appended.
func (t *Table) appendBounded(ctx context.Context, id aggID, path, attr, v string, bound int, distinct bool, now time.Time) (bool, error) {
	e := newExpr()
	cond := "attribute_not_exists(" + e.n(attr) + ") OR (size(" + e.n(attr) + ") < " + e.v(avN(int64(bound)))
	if distinct {
		cond += " AND NOT contains(" + e.n(attr) + ", " + e.v(avS(v)) + ")"
	}
	cond += ")"
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &t.name, Key: key(id.exemplarPK(), id.prefix()+"E#"+path),
		UpdateExpression: ptr("SET " + e.n(attr) + " = list_append(if_not_exists(" + e.n(attr) + ", " + e.v(avL()) + "), " + e.v(avL(v)) + ")" +
			", " + e.n(attrTTL) + " = " + e.v(t.ttl(now))),
		ConditionExpression:      ptr(cond),
		ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
	})
	if err == nil {
		return true, nil
	}
	if _, refused := conditionFailed(err); refused {
		return false, nil
	}
	return false, classified(err)
}

// valuesFull reads whether path's value list is full (rather than holding
// v already).
func (t *Table) valuesFull(ctx context.Context, id aggID, path, v string) (bool, error) {
	it, err := t.get(ctx, id.exemplarPK(), id.prefix()+"E#"+path)
	if err != nil || it == nil {
		return false, err
	}
	vals := it.list(attrValues)
	for _, x := range vals {
		if x == v {
			return false, nil
		}
	}
	return len(vals) >= cutover.MaxValuesTracked, nil
}

func shardOf(eventID string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(eventID))
	return int(h.Sum32() % uint32(shards))
}

// bucketOf is the index of the latency histogram bucket Observe uses.
func bucketOf(d time.Duration) int {
	var h cutover.Histogram
	h.Observe(d)
	for i, n := range h.Counts {
		if n > 0 {
			return i
		}
	}
	return 0
}

// histogramLen is the length of a used Histogram's Counts.
func histogramLen() int {
	var h cutover.Histogram
	h.Observe(time.Millisecond)
	return len(h.Counts)
}

// valueHash is the short hash of a differing async value, as
// cutover.Aggregate.Add computes it for PathStat.Values.
func valueHash(v json.RawMessage) string {
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:6])
}
