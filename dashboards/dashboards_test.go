package dashboards

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// builtins are the Grafana variables a dashboard may use without defining.
var builtins = map[string]bool{"__rate_interval": true, "__range": true, "__interval": true}

func TestDashboardFiles(t *testing.T) {
	want := []string{"migration-overview.json", "pipeline.json", "workflow-drilldown.json"}
	if diff := cmp.Diff(want, DashboardFiles()); diff != "" {
		t.Errorf("DashboardFiles() (-want +got):\n%s", diff)
	}
}

// Every dashboard follows the same conventions, so that it imports into any
// Grafana with a Prometheus data source and every panel tells the on-call
// engineer what to do.
func TestDashboardConventions(t *testing.T) {
	uids := map[string]string{}
	for _, name := range DashboardFiles() {
		t.Run(name, func(t *testing.T) {
			d, err := LoadDashboard(name)
			if err != nil {
				t.Fatal(err)
			}
			if prev, dup := uids[d.UID]; dup || d.UID == "" {
				t.Errorf("uid %q is empty or also used by %s", d.UID, prev)
			}
			uids[d.UID] = name
			if !strings.HasPrefix(d.Title, "cutover / ") || d.Description == "" {
				t.Errorf("title %q should start with \"cutover / \" and the dashboard should have a description", d.Title)
			}
			if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
				t.Errorf("schemaVersion %d, want 36..41 (Grafana 9.x to 11.x)", d.SchemaVersion)
			}
			if !slices.Contains(d.Tags, "cutover") {
				t.Errorf("tags %v lack \"cutover\" (the dashboards link to each other by tag)", d.Tags)
			}
			checkVariables(t, d)
			checkPanels(t, d)
			for _, a := range d.Annotations.List {
				if a.Expr != "" && !isVar(a.Datasource) {
					t.Errorf("annotation %q: datasource %+v, want the ${datasource} variable", a.Name, a.Datasource)
				}
			}
		})
	}
}

func checkVariables(t *testing.T, d *Dashboard) {
	t.Helper()
	ds, ok := d.Variable("datasource")
	if q, _ := ds.QueryString(); !ok || ds.Type != "datasource" || q != "prometheus" {
		t.Errorf("variable datasource = %+v, want a Prometheus datasource variable", ds)
	}
	wf, ok := d.Variable("workflow")
	if !ok || wf.Type != "query" {
		t.Fatalf("no query variable workflow")
	}
	q, err := wf.QueryString()
	if err != nil {
		t.Fatal(err)
	}
	if _, label, err := LabelValues(q); err != nil || label != "workflow" {
		t.Errorf("variable workflow: query %q, want label_values(..., workflow) (err %v)", q, err)
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && !isVar(v.Datasource) {
			t.Errorf("variable %s: datasource %+v, want ${datasource}", v.Name, v.Datasource)
		}
	}
}

func checkPanels(t *testing.T, d *Dashboard) {
	t.Helper()
	ids := map[int]bool{}
	var placed []Panel
	for _, p := range d.AllPanels() {
		if ids[p.ID] || p.ID <= 0 {
			t.Errorf("panel %q: id %d is not positive or not unique", p.Title, p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, g)
		}
		for _, o := range placed {
			if overlap(o.GridPos, g) {
				t.Errorf("panel %q %+v overlaps panel %q %+v", p.Title, g, o.Title, o.GridPos)
			}
		}
		placed = append(placed, p)
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if !p.IsQueryPanel() {
			continue
		}
		// The description is the panel's (i) tooltip: what it shows and
		// what it asks the reader to do.
		if !strings.HasPrefix(p.Description, "Shows: ") || !strings.Contains(p.Description, "\nDo: ") {
			t.Errorf("panel %q: description should read \"Shows: ...\\nDo: ...\", got %q", p.Title, p.Description)
		}
		if !isVar(p.Datasource) {
			t.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q is empty or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
			}
			if !isVar(tg.Datasource) {
				t.Errorf("panel %q target %s: datasource %+v, want ${datasource}", p.Title, tg.RefID, tg.Datasource)
			}
			for _, v := range Variables(tg.Expr) {
				if _, ok := d.Variable(v); !ok && !builtins[v] {
					t.Errorf("panel %q target %s uses $%s, which the dashboard does not define", p.Title, tg.RefID, v)
				}
			}
		}
	}
}

func isVar(ds *Datasource) bool {
	return ds != nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
}

func overlap(a, b GridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

func TestOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b GridPos
		want bool
	}{
		{GridPos{W: 12, H: 8}, GridPos{X: 12, W: 12, H: 8}, false},
		{GridPos{W: 12, H: 8}, GridPos{X: 11, W: 12, H: 8}, true},
		{GridPos{W: 24, H: 1}, GridPos{Y: 1, W: 24, H: 5}, false},
		{GridPos{W: 24, H: 2}, GridPos{Y: 1, W: 4, H: 5}, true},
	} {
		if got := overlap(tc.a, tc.b); got != tc.want {
			t.Errorf("overlap(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestRuleConventions(t *testing.T) {
	rf, err := LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Interval != "" {
			t.Errorf("group %s sets interval %s; the rules should follow the global evaluation_interval", g.Name, g.Interval)
		}
		for _, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") || strings.TrimSpace(r.Expr) == "" {
				t.Errorf("rule %+v: want exactly one of alert and record, and an expr", r)
				continue
			}
			if names[r.Name()] {
				t.Errorf("rule %s is defined twice", r.Name())
			}
			names[r.Name()] = true
			if r.Record != "" {
				checkRecord(t, r)
			} else {
				checkAlert(t, r)
			}
		}
	}
	if len(rf.Alerts()) == 0 || len(rf.Records()) == 0 {
		t.Errorf("%d alerts and %d recording rules; want some of each", len(rf.Alerts()), len(rf.Records()))
	}
}

func checkRecord(t *testing.T, r Rule) {
	t.Helper()
	// level:metric:operations, the Prometheus naming convention.
	parts := strings.Split(r.Record, ":")
	if len(parts) != 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "cutover_") || parts[2] == "" {
		t.Errorf("record %s: want level:cutover_metric:operations", r.Record)
	}
	if r.For != "" || len(r.Annotations) > 0 {
		t.Errorf("record %s has for or annotations", r.Record)
	}
}

func checkAlert(t *testing.T, r Rule) {
	t.Helper()
	if !strings.HasPrefix(r.Alert, "Cutover") {
		t.Errorf("alert %s: name should start with Cutover (the dashboards' alert annotation selects Cutover.*)", r.Alert)
	}
	if r.For == "" {
		t.Errorf("alert %s has no for: duration", r.Alert)
	}
	if s := r.Labels["severity"]; s != "critical" && s != "warning" {
		t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
	}
	for k, v := range r.Annotations {
		if strings.TrimSpace(v) == "" {
			t.Errorf("alert %s: annotation %s is empty", r.Alert, k)
		}
	}
	if diff := cmp.Diff([]string{"description", "runbook", "summary"}, slices.Sorted(maps.Keys(r.Annotations))); diff != "" {
		t.Errorf("alert %s annotations (-want +got):\n%s", r.Alert, diff)
	}
}

// The alerts that compare against the gate use its default, 0.999, so that
// README.md's instructions for changing it stay true.
func TestGateThreshold(t *testing.T) {
	rf, err := LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rf.Alerts() {
		if strings.Contains(r.Expr, "match_rate") {
			got = append(got, fmt.Sprintf("%s: %d", r.Alert, strings.Count(r.Expr, "< 0.999")))
		}
	}
	want := []string{"CutoverLiveMismatch: 1", "CutoverMatchRateBelowGate: 2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts on the match rate and their comparisons with the 0.999 gate (-want +got):\n%s", diff)
	}
}
