package cutover

import (
	"math"
	"time"
)

// latencyBounds are the upper bounds of the latency histogram buckets:
// exponential from 100µs to about 2 minutes, 2^(1/8) (about 9%) apart, so a
// quantile read from the buckets is within one bucket width of the truth. The last
// bucket is unbounded.
var latencyBounds = func() []time.Duration {
	var b []time.Duration
	for v := float64(100 * time.Microsecond); v < float64(2*time.Minute); v *= 1.0905 { // 2^(1/8)
		b = append(b, time.Duration(v))
	}
	return b
}()

// Histogram counts latencies in fixed exponential buckets, so histograms from
// many writers and minutes add up exactly.
type Histogram struct {
	Counts []int64 `json:"counts,omitempty"` // len(latencyBounds)+1 once used
}

// Observe adds one latency.
func (h *Histogram) Observe(d time.Duration) {
	if h.Counts == nil {
		h.Counts = make([]int64, len(latencyBounds)+1)
	}
	lo, hi := 0, len(latencyBounds)
	for lo < hi { // first bound >= d
		mid := (lo + hi) / 2
		if latencyBounds[mid] < d {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	h.Counts[lo]++
}

// Merge adds the counts of o.
func (h *Histogram) Merge(o Histogram) {
	if len(o.Counts) == 0 {
		return
	}
	if h.Counts == nil {
		h.Counts = make([]int64, len(latencyBounds)+1)
	}
	for i, n := range o.Counts {
		if i < len(h.Counts) {
			h.Counts[i] += n
		}
	}
}

// Count is the number of observations.
func (h Histogram) Count() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Quantile estimates the q-quantile (0 < q <= 1), interpolating inside the
// bucket it falls in. It returns 0 for an empty histogram.
func (h Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lower := time.Duration(0)
			if i > 0 {
				lower = latencyBounds[i-1]
			}
			if i >= len(latencyBounds) {
				return lower
			}
			frac := (rank - seen) / float64(c)
			return lower + time.Duration(math.Round(frac*float64(latencyBounds[i]-lower)))
		}
		seen += float64(c)
	}
	return latencyBounds[len(latencyBounds)-1]
}
