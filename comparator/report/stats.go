package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/cutover-dev/cutover"
)

// maxSuperseded bounds the point reads one report spends on replays per
// workflow; a bigger replay is reported without the rest superseded.
const maxSuperseded = 10000

// stats is one workflow's aggregates over a window.
type stats struct {
	merged     *cutover.Aggregate         // every epoch, replaced verdicts taken out
	byEpoch    map[int]*cutover.Aggregate // as recorded
	superseded int64
}

// stats merges a workflow's minute aggregates and takes out the verdicts
// that a later replay epoch of the same event replaced, so that a replay
// that fixed mismatches turns the report green instead of adding matches
// next to the old mismatches. The epochs keep the recorded counts for the
// before/after view.
func (r *Reporter) stats(ctx context.Context, workflow string, aggs []*cutover.Aggregate, since, until time.Time) (*stats, error) {
	st := &stats{merged: cutover.NewAggregate(workflow, 0, since), byEpoch: map[int]*cutover.Aggregate{}}
	for _, a := range aggs {
		st.merged.Merge(a)
		e, ok := st.byEpoch[a.Epoch]
		if !ok {
			e = cutover.NewAggregate(workflow, a.Epoch, since)
			st.byEpoch[a.Epoch] = e
		}
		e.Merge(a)
	}
	budget := maxSuperseded
	for _, epoch := range slices.Sorted(maps.Keys(st.byEpoch)) {
		if epoch == 0 {
			continue
		}
		q := cutover.ComparisonQuery{Workflow: workflow, Epoch: epoch, Since: since, Until: until, Limit: 1000}
		for budget > 0 {
			page, err := r.src.Comparisons.Comparisons(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("report: replays of %s: %w", workflow, err)
			}
			for _, c := range page {
				if c.Epoch != epoch || budget == 0 {
					continue // a store that reads Epoch loosely
				}
				budget--
				prev, err := r.src.Comparisons.Comparison(ctx, c.EventID, epoch-1)
				switch {
				case errors.Is(err, cutover.ErrNotFound):
					continue
				case err != nil:
					return nil, fmt.Errorf("report: replays of %s: %w", workflow, err)
				}
				if prev.ComparedAt.Before(since) || !prev.ComparedAt.Before(until) {
					continue // the replaced verdict is not in the window anyway
				}
				subtract(st.merged, prev)
				st.superseded++
			}
			if len(page) < q.Limit {
				break
			}
			q.AfterID = page[len(page)-1].EventID
		}
	}
	return st, nil
}

// subtract takes one comparison back out of an aggregate: its verdict, its
// paths (and its id from their examples) and its fingerprint. Latencies
// stay: both runs really took that long.
func subtract(a *cutover.Aggregate, c *cutover.Comparison) {
	if a.Verdicts[c.Verdict] > 0 {
		a.Verdicts[c.Verdict]--
	}
	for _, d := range c.Diffs {
		if ps, ok := a.Paths[d.Path]; ok {
			ps.Count--
			ps.Examples = slices.DeleteFunc(ps.Examples, func(id string) bool { return id == c.EventID })
			if ps.Count <= 0 {
				delete(a.Paths, d.Path)
			}
		}
	}
	if len(c.Diffs) > 0 {
		fp := cutover.Fingerprint(c.Paths())
		if ps, ok := a.Fingerprints[fp]; ok {
			ps.Count--
			if ps.Count <= 0 {
				delete(a.Fingerprints, fp)
			}
		}
	}
}

func (s *stats) verdicts() Verdicts {
	v := newVerdicts()
	for k, n := range s.merged.Verdicts {
		v[k] += n
	}
	return v
}

func (s *stats) epochs() []Epoch {
	out := []Epoch{}
	for _, e := range slices.Sorted(maps.Keys(s.byEpoch)) {
		v := newVerdicts()
		for k, n := range s.byEpoch[e].Verdicts {
			v[k] += n
		}
		out = append(out, Epoch{Epoch: e, Compared: s.byEpoch[e].Total(), Verdicts: v, MatchRate: roundTo(v.matchRate(), 6)})
	}
	return out
}

func topDiffs(a *cutover.Aggregate, n int) []PathCount {
	out := []PathCount{}
	for p, st := range a.Paths {
		out = append(out, PathCount{Path: p, Count: st.Count, Examples: append([]string{}, st.Examples...)})
	}
	slices.SortFunc(out, func(x, y PathCount) int { return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Path, y.Path)) })
	return out[:min(n, len(out))]
}

func fingerprints(a *cutover.Aggregate, n int) []Fingerprint {
	out := []Fingerprint{}
	for id, st := range a.Fingerprints {
		out = append(out, Fingerprint{ID: id, Paths: st.Paths, Count: st.Count, Example: st.Example})
	}
	slices.SortFunc(out, func(x, y Fingerprint) int { return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.ID, y.ID)) })
	return out[:min(n, len(out))]
}

func quantiles(h cutover.Histogram) Quantiles {
	ms := func(d time.Duration) float64 { return roundTo(float64(d)/float64(time.Millisecond), 2) }
	return Quantiles{P50: ms(h.Quantile(0.5)), P99: ms(h.Quantile(0.99))}
}

func roundTo(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}
