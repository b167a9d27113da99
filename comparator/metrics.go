package comparator

import (
	"github.com/cutover-dev/cutover"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Service's counters; a nil *metrics records nothing.
type metrics struct {
	comparisons *prometheus.CounterVec
	swept       *prometheus.CounterVec
	latency     *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		comparisons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_comparisons_total",
			Help: "Comparisons recorded, by workflow and verdict.",
		}, []string{"workflow", "verdict"}),
		swept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_comparator_missing_sides_total",
			Help: "Outcome sides the sweeper recorded as missing after the async deadline, by workflow and side.",
		}, []string{"workflow", "side"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cutover_side_latency_seconds",
			Help:    "Latency of each side of compared events: legacy (the proxy's round trip) and async (the new implementation's answer), by workflow.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}, []string{"workflow", "side"}),
	}
	for _, c := range []prometheus.Collector{m.comparisons, m.swept, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) compared(c *cutover.Comparison) {
	if m == nil {
		return
	}
	m.comparisons.WithLabelValues(c.Workflow, string(c.Verdict)).Inc()
	if c.LegacyLatency > 0 {
		m.latency.WithLabelValues(c.Workflow, string(cutover.SideLegacy)).Observe(c.LegacyLatency.D().Seconds())
	}
	if c.AsyncLatency > 0 {
		m.latency.WithLabelValues(c.Workflow, string(cutover.SideAsync)).Observe(c.AsyncLatency.D().Seconds())
	}
}

func (m *metrics) filled(workflow string, side cutover.Side) {
	if m != nil {
		m.swept.WithLabelValues(workflow, string(side)).Inc()
	}
}
