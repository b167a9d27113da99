package flags

import (
	"sort"
	"strings"
	"testing"

	cutover "github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// gather flattens reg into "name{k=v,...}" -> value (labels sorted), and
// "name" for unlabelled series.
func gather(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := mf.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestSnapshotMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s, err := NewSnapshot(testConfig(t), SnapshotOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	s.Apply(cutover.Flag{Workflow: "create-order", Mode: cutover.ModeCanary, Percent: 2.5, Version: 1})
	got := gather(t, reg)
	want := map[string]float64{}
	for _, w := range []struct {
		name    string
		mode    cutover.Mode
		percent float64
		version float64
		changes float64
	}{
		{"create-order", cutover.ModeCanary, 2.5, 1, 1},
		{"get-order", cutover.ModeCanary, 10, 0, 0},
		{"ship-order", cutover.ModeOff, 0, 0, 0},
		{"pay-invoice", cutover.ModeCutover, 0, 0, 0},
	} {
		for _, m := range cutover.Modes() {
			want["cutover_flag_mode{mode="+string(m)+",workflow="+w.name+"}"] = boolFloat(m == w.mode)
		}
		want["cutover_flag_percent{workflow="+w.name+"}"] = w.percent
		want["cutover_flag_version{workflow="+w.name+"}"] = w.version
		want["cutover_flag_changes_total{workflow="+w.name+"}"] = w.changes
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

func TestMetricsRegistrationConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewSnapshot(testConfig(t), SnapshotOptions{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSnapshot(testConfig(t), SnapshotOptions{Registerer: reg}); err == nil {
		t.Error("a second snapshot registered the same metrics without error")
	}
}
