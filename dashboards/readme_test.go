package dashboards

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// notCharted are the metrics that no panel or rule uses, and why; README.md
// says the same under "Not on a dashboard".
var notCharted = map[string]string{
	"cutover_proxy_outcome_errors_total": "its series appears only after a failed legacy-outcome write, which the Prometheus test cannot cause",
}

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// README.md documents every dashboard, panel, alert and recording rule.
func TestReadmeCoversEverything(t *testing.T) {
	doc := readme(t)
	for _, name := range DashboardFiles() {
		d, err := LoadDashboard(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(doc, "`"+name+"`") || !strings.Contains(doc, d.Title) {
			t.Errorf("README.md does not name %s (%q)", name, d.Title)
		}
		section := doc[strings.Index(doc, d.Title):]
		for _, p := range d.AllPanels() {
			want := "**" + p.Title + "**"
			if p.Type == "row" {
				want = "**Row: " + p.Title + "**"
			}
			if !strings.Contains(section, want) {
				t.Errorf("README.md's section on %s lacks %s", name, want)
			}
		}
	}
	rf, err := LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rf.Alerts() {
		if !strings.Contains(doc, "| "+r.Alert+" | "+r.Labels["severity"]+" | "+r.For+" |") {
			t.Errorf("README.md's alert table lacks %s with severity %s and for %s", r.Alert, r.Labels["severity"], r.For)
		}
		if !strings.Contains(doc, "- **"+r.Alert+"** — ") {
			t.Errorf("README.md does not say what to do about %s", r.Alert)
		}
	}
	for _, r := range rf.Records() {
		base := r.Record[:strings.LastIndex(r.Record, ":")+1]
		if !strings.Contains(doc, "`"+r.Record+"`") && !strings.Contains(doc, "`"+base) {
			t.Errorf("README.md does not document recording rule %s", r.Record)
		}
	}
}

// definedRe matches a metric definition in Go: prometheus.*Opts{Name: "..."}
// or prometheus.NewDesc("...", ...).
var definedRe = regexp.MustCompile(`(?:Name:\s*|NewDesc\(\s*)"(cutover_[a-z0-9_]+)"`)

// usedRe matches a cutover metric name in PromQL, not the middle part of a
// recording rule's level:metric:operations name.
var usedRe = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:])(cutover_[a-z0-9_]+)`)

// definedMetrics returns every cutover metric defined in the module's Go
// code (tests excluded).
func definedMetrics(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != ".." && (strings.HasPrefix(n, ".") || n == "node_modules" || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range definedRe.FindAllStringSubmatch(string(data), -1) {
			seen[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// The dashboards and rules use only metrics that the code defines, and
// README.md documents every metric the code defines: the metrics are what
// exists in the code, not what a dashboard wishes existed.
func TestMetricsMatchCode(t *testing.T) {
	defined := definedMetrics(t)
	if len(defined) < 20 {
		t.Fatalf("found only %d metric definitions in the module: %v", len(defined), defined)
	}
	qs, err := Queries(map[string]string{"workflow": ".*", "step": ".*", "__rate_interval": "1m", "__range": "1h", "__interval": "1m"})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, q := range qs {
		for _, m := range usedRe.FindAllStringSubmatch(q.Expr, -1) {
			name := m[1]
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base := strings.TrimSuffix(name, suffix); base != name && slices.Contains(defined, base) {
					name = base
				}
			}
			if !slices.Contains(defined, name) {
				t.Errorf("%s uses %s, which no Go code defines", q, m[1])
			}
			used[name] = true
		}
	}
	doc := readme(t)
	notOnDashboard := doc[strings.Index(doc, "### Not on a dashboard"):]
	for _, m := range defined {
		if !strings.Contains(doc, "| `"+m+"` |") {
			t.Errorf("README.md's metric tables lack %s: document its type, labels and meaning", m)
		}
		why, skipped := notCharted[m]
		switch {
		case used[m] && skipped:
			t.Errorf("%s is charted now: remove it from notCharted and README.md's \"Not on a dashboard\"", m)
		case !used[m] && !skipped:
			t.Errorf("no panel or rule uses %s: chart it (and make TestPrometheus produce its series), or list it in notCharted with the reason", m)
		case skipped && !strings.Contains(notOnDashboard, "`"+m+"`"):
			t.Errorf("README.md's \"Not on a dashboard\" does not explain %s (%s)", m, why)
		}
	}
}
