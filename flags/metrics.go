package flags

import (
	cutover "github.com/cutover-dev/cutover"
	"github.com/prometheus/client_golang/prometheus"
)

// The collectors read the published view and counters at scrape time, so the
// metrics can never disagree with what Decide serves and need no updating on
// the hot path.

var (
	modeDesc = prometheus.NewDesc("cutover_flag_mode",
		"1 for the mode each workflow is in, 0 for the others.", []string{"workflow", "mode"}, nil)
	percentDesc = prometheus.NewDesc("cutover_flag_percent",
		"Canary share of each workflow, 0 to 100 (0 unless canary).", []string{"workflow"}, nil)
	versionDesc = prometheus.NewDesc("cutover_flag_version",
		"Flag version each workflow's snapshot serves (0: the config's mode); instances that disagree have not refreshed.", []string{"workflow"}, nil)
	changesDesc = prometheus.NewDesc("cutover_flag_changes_total",
		"Flag changes this process has picked up, by refresh or locally.", []string{"workflow"}, nil)

	ageDesc = prometheus.NewDesc("cutover_flag_snapshot_age_seconds",
		"Seconds since the flag snapshot last loaded the store (since start if never).", nil, nil)
	staleDesc = prometheus.NewDesc("cutover_flag_snapshot_stale",
		"1 when the flag snapshot is older than its stale threshold: the store is unreachable and the last known good flags are served.", nil, nil)
	refreshErrorsDesc = prometheus.NewDesc("cutover_flag_refresh_errors_total",
		"Flag refreshes that failed to load the store.", nil, nil)
)

type snapshotCollector struct{ s *Snapshot }

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- modeDesc
	ch <- percentDesc
	ch <- versionDesc
	ch <- changesDesc
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.s.cur.Load()
	for _, name := range c.s.order {
		f := v.flags[name].flag
		for _, m := range cutover.Modes() {
			ch <- prometheus.MustNewConstMetric(modeDesc, prometheus.GaugeValue, boolFloat(f.Mode == m), name, string(m))
		}
		ch <- prometheus.MustNewConstMetric(percentDesc, prometheus.GaugeValue, f.Percent, name)
		ch <- prometheus.MustNewConstMetric(versionDesc, prometheus.GaugeValue, float64(f.Version), name)
		ch <- prometheus.MustNewConstMetric(changesDesc, prometheus.CounterValue, float64(c.s.changes[name].Load()), name)
	}
}

type refresherCollector struct{ r *Refresher }

func (c *refresherCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ageDesc
	ch <- staleDesc
	ch <- refreshErrorsDesc
}

func (c *refresherCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, c.r.Age().Seconds())
	ch <- prometheus.MustNewConstMetric(staleDesc, prometheus.GaugeValue, boolFloat(c.r.Stale()))
	ch <- prometheus.MustNewConstMetric(refreshErrorsDesc, prometheus.CounterValue, float64(c.r.errors.Load()))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
