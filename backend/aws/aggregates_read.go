package aws

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cutover-dev/cutover"
)

// Aggregates returns the aggregates of workflow (all if empty) whose minute
// is in [since, until), ordered by workflow, epoch, minute. A zero bound
// does not filter.
func (t *Table) Aggregates(ctx context.Context, workflow string, since, until time.Time) ([]*cutover.Aggregate, error) {
	wfs := []string{workflow}
	if workflow == "" {
		var err error
		if wfs, err = t.workflows(ctx, regAggregates); err != nil {
			return nil, fmt.Errorf("aws: aggregates: %w", err)
		}
	}
	lo, hi := padNanos(0), strings.Repeat("9", 20)+"~"
	if !since.IsZero() {
		lo = padNanos(since.UnixNano())
	}
	if !until.IsZero() {
		if until.UnixNano() <= 0 {
			return nil, nil
		}
		hi = padNanos(until.UnixNano()-1) + "~"
	}
	if lo > hi {
		return nil, nil
	}
	var out []*cutover.Aggregate
	for _, wf := range wfs {
		b := aggBuilder{workflow: wf, aggs: map[aggID]*aggParts{}}
		pks := []string{aggID{workflow: wf}.exemplarPK()}
		for s := 0; s < t.shards; s++ {
			pks = append(pks, aggID{workflow: wf}.counterPK(s))
		}
		for _, pk := range pks {
			e := newExpr()
			err := t.query(ctx, &dynamodb.QueryInput{
				KeyConditionExpression:   ptr(e.n(attrPK) + " = " + e.v(avS(pk)) + " AND " + e.n(attrSK) + " BETWEEN " + e.v(avS(lo)) + " AND " + e.v(avS(hi))),
				ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(), ConsistentRead: ptr(true),
			}, func(it item) bool {
				b.add(it)
				return true
			})
			if err != nil {
				return nil, fmt.Errorf("aws: aggregates %s: %w", wf, err)
			}
		}
		out = append(out, b.build()...)
	}
	return out, nil
}

// aggParts gathers the items of one aggregate.
type aggParts struct {
	core       []item
	pathCounts map[string]int64
	printCount map[string]int64
	pathEx     map[string]item
	printEx    map[string]item
}

type aggBuilder struct {
	workflow string
	aggs     map[aggID]*aggParts
}

func (b *aggBuilder) add(it item) {
	sk := it.s(attrSK)
	if len(sk) <= aggPrefixLen {
		return
	}
	minute, err1 := strconv.ParseInt(sk[:20], 10, 64)
	epoch, err2 := strconv.Atoi(sk[21:31])
	if err1 != nil || err2 != nil {
		return
	}
	id := aggID{workflow: b.workflow, epoch: epoch, minute: minute}
	p, ok := b.aggs[id]
	if !ok {
		p = &aggParts{pathCounts: map[string]int64{}, printCount: map[string]int64{}, pathEx: map[string]item{}, printEx: map[string]item{}}
		b.aggs[id] = p
	}
	rest := sk[aggPrefixLen:]
	switch {
	case rest == "C":
		p.core = append(p.core, it)
	case strings.HasPrefix(rest, "P#"):
		p.pathCounts[rest[2:]] += it.n(attrCount)
	case strings.HasPrefix(rest, "F#"):
		p.printCount[rest[2:]] += it.n(attrCount)
	case strings.HasPrefix(rest, "E#"):
		p.pathEx[rest[2:]] = it
	case strings.HasPrefix(rest, "G#"):
		p.printEx[rest[2:]] = it
	}
}

// build assembles the aggregates in the shape the embedded backend reads
// back: Verdicts always a map, Paths and Fingerprints nil when empty, and
// histograms without observations nil.
func (b *aggBuilder) build() []*cutover.Aggregate {
	ids := make([]aggID, 0, len(b.aggs))
	for id := range b.aggs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].epoch != ids[j].epoch {
			return ids[i].epoch < ids[j].epoch
		}
		return ids[i].minute < ids[j].minute
	})
	n := histogramLen()
	var out []*cutover.Aggregate
	for _, id := range ids {
		p := b.aggs[id]
		a := &cutover.Aggregate{Workflow: id.workflow, Epoch: id.epoch, Minute: fromNanos(id.minute), Verdicts: map[cutover.Verdict]int64{}}
		for _, core := range p.core {
			for attr := range core {
				count := core.n(attr)
				switch {
				case count == 0:
				case strings.HasPrefix(attr, verdictAttr):
					a.Verdicts[cutover.Verdict(attr[len(verdictAttr):])] += count
				case strings.HasPrefix(attr, legacyAttr) || strings.HasPrefix(attr, asyncAttr):
					i, err := strconv.Atoi(attr[1:])
					if err != nil || i < 0 || i >= n {
						continue
					}
					h := &a.LegacyLatency
					if attr[0] == asyncAttr[0] {
						h = &a.AsyncLatency
					}
					if h.Counts == nil {
						h.Counts = make([]int64, n)
					}
					h.Counts[i] += count
				}
			}
		}
		if a.Total() == 0 {
			continue // exemplars or a registry without committed counts
		}
		for path, count := range p.pathCounts {
			if a.Paths == nil {
				a.Paths = map[string]*cutover.PathStat{}
			}
			st := &cutover.PathStat{Count: count}
			if ex, ok := p.pathEx[path]; ok {
				st.Examples = nilIfEmpty(ex.list(attrExamples))
				st.Values = nilIfEmpty(ex.list(attrValues))
			}
			a.Paths[path] = st
		}
		for fp, count := range p.printCount {
			if a.Fingerprints == nil {
				a.Fingerprints = map[string]*cutover.PrintStat{}
			}
			ps := &cutover.PrintStat{Count: count}
			if ex, ok := p.printEx[fp]; ok {
				ps.Example = ex.s(attrExamples)
				ps.Paths = ex.list(attrPaths)
			}
			a.Fingerprints[fp] = ps
		}
		out = append(out, a)
	}
	return out
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
