package pipeline

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cutover-dev/cutover"
)

// QueueCollector exports the depth of every step's queue and DLQ and the age
// of the oldest message, read from the backend at scrape time.
type QueueCollector struct {
	cfg   *cutover.Config
	queue interface {
		QueueStats(context.Context, string) (cutover.QueueStats, error)
	}
	timeout time.Duration
	depth   *prometheus.Desc
	oldest  *prometheus.Desc
	errors  *prometheus.Desc
}

// NewQueueCollector returns a collector for the queues of cfg's workflows;
// register it with the process's registry.
func NewQueueCollector(cfg *cutover.Config, q cutover.Queue) *QueueCollector {
	return &QueueCollector{
		cfg: cfg, queue: q, timeout: 5 * time.Second,
		depth: prometheus.NewDesc("cutover_queue_messages", "Messages in a step's queue or dead-letter queue, by state (visible, in_flight, delayed).",
			[]string{"workflow", "step", "queue", "state"}, nil),
		oldest: prometheus.NewDesc("cutover_queue_oldest_message_age_seconds", "Age of the oldest message in a step's queue (0 when empty or when the backend cannot tell).",
			[]string{"workflow", "step", "queue"}, nil),
		errors: prometheus.NewDesc("cutover_queue_stats_errors", "1 when the queue's stats could not be read at this scrape.",
			[]string{"workflow", "step", "queue"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.errors
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, w := range c.cfg.Workflows {
		for _, step := range w.StepNames() {
			for kind, name := range map[string]string{"main": cutover.QueueName(w.Name, step), "dlq": cutover.DeadLetterName(w.Name, step)} {
				st, err := c.queue.QueueStats(ctx, name)
				failed := 0.0
				if err != nil {
					failed = 1
				}
				ch <- prometheus.MustNewConstMetric(c.errors, prometheus.GaugeValue, failed, w.Name, step, kind)
				if err != nil {
					continue
				}
				for state, n := range map[string]int64{"visible": st.Visible, "in_flight": st.InFlight, "delayed": st.Delayed} {
					ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n), w.Name, step, kind, state)
				}
				ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, st.OldestAge.Seconds(), w.Name, step, kind)
			}
		}
	}
}
