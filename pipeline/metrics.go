package pipeline

import "github.com/prometheus/client_golang/prometheus"

// metrics of the worker runtime. Names follow cutover_<area>_<what>_<unit>;
// see dashboards/README.md for the whole scheme.
type metrics struct {
	attempts   *prometheus.CounterVec   // workflow, step
	results    *prometheus.CounterVec   // workflow, step, result: succeeded|retried|dead_lettered|duplicate|conflict|fenced|released
	duration   *prometheus.HistogramVec // workflow, step
	idempotent *prometheus.CounterVec   // workflow, step, result: hit|conflict|busy
	inFlight   *prometheus.GaugeVec     // workflow, step
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_worker_attempts_total", Help: "Handler attempts started.",
		}, []string{"workflow", "step"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_worker_results_total", Help: "How deliveries ended: succeeded, retried, dead_lettered, duplicate, conflict, fenced, released.",
		}, []string{"workflow", "step", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cutover_worker_handler_duration_seconds", Help: "Handler run time per attempt.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"workflow", "step"}),
		idempotent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_idempotency_total", Help: "Idempotency claims that did not acquire: hit (stored outcome returned), conflict (key reused with another payload), busy (leased by another attempt).",
		}, []string{"workflow", "step", "result"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cutover_worker_in_flight", Help: "Jobs being processed now.",
		}, []string{"workflow", "step"}),
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.results, m.duration, m.idempotent, m.inFlight)
	}
	return m
}
