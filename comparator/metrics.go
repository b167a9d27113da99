package comparator

import (
	"github.com/cutover-dev/cutover"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Service's counters; a nil *metrics records nothing.
type metrics struct {
	comparisons *prometheus.CounterVec
	swept       *prometheus.CounterVec
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
	}
	for _, c := range []prometheus.Collector{m.comparisons, m.swept} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) compared(c *cutover.Comparison) {
	if m != nil {
		m.comparisons.WithLabelValues(c.Workflow, string(c.Verdict)).Inc()
	}
}

func (m *metrics) filled(workflow string, side cutover.Side) {
	if m != nil {
		m.swept.WithLabelValues(workflow, string(side)).Inc()
	}
}
