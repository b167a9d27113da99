package dashboards

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/queries.txt from the dashboards and rules")

func TestExpand(t *testing.T) {
	vars := map[string]string{"workflow": "orders|payments", "__rate_interval": "1m", "step": "respond"}
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"dollar", `rate(x{workflow=~"$workflow"}[$__rate_interval])`, `rate(x{workflow=~"orders|payments"}[1m])`, ""},
		{"braces", `x{step=~"${step}"}`, `x{step=~"respond"}`, ""},
		{"format", `x{workflow=~"${workflow:regex}"}`, `x{workflow=~"orders|payments"}`, ""},
		{"brackets", `x{step="[[step]]"}`, `x{step="respond"}`, ""},
		{"none", `sum(up)`, `sum(up)`, ""},
		{"subquery is not a variable", `max_over_time(x[5m:1m])`, `max_over_time(x[5m:1m])`, ""},
		{"unknown", `x{a="$nope",b="${other}",c="$nope"}`, "", "unknown variable $nope, $other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expand(tc.in, vars)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("Expand(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Expand(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	got := Variables(`rate(x{workflow=~"$workflow",step=~"${step:regex}"}[$__rate_interval]) / y{w="$workflow"}`)
	if diff := cmp.Diff([]string{"workflow", "step", "__rate_interval"}, got); diff != "" {
		t.Errorf("Variables (-want +got):\n%s", diff)
	}
}

func TestLabelValues(t *testing.T) {
	for _, tc := range []struct {
		in, sel, label string
		ok             bool
	}{
		{"label_values(cutover_flag_mode, workflow)", "cutover_flag_mode", "workflow", true},
		{` label_values( cutover_queue_messages{workflow=~"$workflow"} ,step ) `, `cutover_queue_messages{workflow=~"$workflow"}`, "step", true},
		{"label_values(workflow)", "", "", false},
		{"query_result(up)", "", "", false},
		{"", "", "", false},
	} {
		sel, label, err := LabelValues(tc.in)
		if (err == nil) != tc.ok || sel != tc.sel || label != tc.label {
			t.Errorf("LabelValues(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.in, sel, label, err, tc.sel, tc.label, tc.ok)
		}
	}
}

// The golden inventory of every expression is what a reviewer reads to see
// which queries a change to a dashboard or rule touched; Grafana's JSON
// buries them. Regenerate with go test ./dashboards -run Golden -update.
func TestQueriesGolden(t *testing.T) {
	qs, err := Queries(map[string]string{
		"workflow": "$workflow", "step": "$step",
		"__rate_interval": "$__rate_interval", "__range": "$__range", "__interval": "$__interval",
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	kinds := map[Kind]int{}
	for _, q := range qs {
		kinds[q.Kind]++
		fmt.Fprintf(&b, "## %s | %s", q.File, q.Where)
		if q.Label != "" {
			fmt.Fprintf(&b, " | label %s", q.Label)
		}
		fmt.Fprintf(&b, "\n%s\n\n", strings.TrimSpace(q.Expr))
	}
	for _, k := range []Kind{KindPanel, KindAnnotation, KindVariable, KindRecord, KindAlert} {
		if kinds[k] == 0 {
			t.Errorf("no queries of kind %s", k)
		}
	}
	golden := filepath.Join("testdata", "queries.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("queries differ from %s (-want +got); rerun with -update if the change is intended:\n%s", golden, diff)
	}
}

func TestQueriesUnknownVariable(t *testing.T) {
	_, err := Queries(map[string]string{"workflow": "x"})
	if err == nil || !strings.Contains(err.Error(), "unknown variable $__rate_interval") {
		t.Errorf("Queries without $__rate_interval: error %v, want one naming it", err)
	}
}
