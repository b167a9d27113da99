package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func TestReportGolden(t *testing.T) {
	rep, err := fixtureReporter(t).Report(context.Background(), Query{Since: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		format Format
		file   string
	}{{FormatText, "report.txt"}, {FormatJSON, "report.json"}, {FormatMarkdown, "report.md"}, {FormatHTML, "report.html"}} {
		t.Run(string(f.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, f.format, rep); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", f.file), buf.Bytes())
		})
	}
}

func TestReportContent(t *testing.T) {
	rep, err := fixtureReporter(t).Report(context.Background(), Query{Since: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Workflow{}
	var names []string
	for _, w := range rep.Workflows {
		byName[w.Name] = w
		names = append(names, w.Name)
		if len(w.Verdicts) != len(cutover.Verdicts()) {
			t.Errorf("%s: verdicts %v, want all six keys", w.Name, w.Verdicts)
		}
	}
	if diff := cmp.Diff([]string{"create-order", "get-order", "refund", "legacy-only"}, names); diff != "" {
		t.Errorf("workflows: config order, then the rest (-want +got):\n%s", diff)
	}

	co := byName["create-order"]
	if co.Compared != 30 || co.Verdicts[cutover.VerdictMismatch] != 27 || co.MatchRate != 0 || co.Ready {
		t.Errorf("create-order: compared %d, %v, rate %v, ready %v", co.Compared, co.Verdicts, co.MatchRate, co.Ready)
	}
	var noisy []string
	for _, n := range co.Noise.Paths {
		noisy = append(noisy, n.Path)
	}
	if diff := cmp.Diff([]string{"$.items[*].line_id", "$.request_id"}, noisy); diff != "" {
		t.Errorf("noise paths (-want +got):\n%s", diff)
	}
	var pasted struct{ Compare cutover.CompareConfig }
	if err := yaml.Unmarshal([]byte(co.Noise.YAML), &pasted); err != nil {
		t.Fatalf("noise YAML %q: %v", co.Noise.YAML, err)
	}
	if diff := cmp.Diff([]string{"$.order_id", "$.items[*].line_id", "$.request_id"}, pasted.Compare.Ignore); diff != "" {
		t.Errorf("pasted ignore list (-want +got):\n%s", diff)
	}
	if len(co.TopDiffs) == 0 || co.TopDiffs[0].Count != 27 || len(co.TopDiffs[0].Examples) != cutover.MaxExamples {
		t.Errorf("top diff %+v", co.TopDiffs)
	}

	// The replay replaced the four mismatches: get-order is green.
	g := byName["get-order"]
	wantEpochs := []Epoch{
		{Epoch: 0, Compared: 24, Verdicts: verdicts(20, 4, 0), MatchRate: 0.833333},
		{Epoch: 1, Compared: 4, Verdicts: verdicts(4, 0, 0), MatchRate: 1},
	}
	if diff := cmp.Diff(wantEpochs, g.Epochs); diff != "" {
		t.Errorf("get-order epochs (-want +got):\n%s", diff)
	}
	if g.Superseded != 4 || g.Compared != 24 || g.Verdicts[cutover.VerdictMismatch] != 0 || !g.Ready || len(g.TopDiffs) != 0 {
		t.Errorf("get-order: superseded %d, compared %d, %v, ready %v, top %v", g.Superseded, g.Compared, g.Verdicts, g.Ready, g.TopDiffs)
	}

	r := byName["refund"]
	if r.Mode != cutover.ModeCanary || r.Percent != 5 || *r.DLQ != 2 || r.GateWindow != "24h0m0s" || !r.Ready {
		t.Errorf("refund: %s %v dlq %v gate window %s ready %v %+v", r.Mode, r.Percent, *r.DLQ, r.GateWindow, r.Ready, r.Gate)
	}
	lo := byName["legacy-only"]
	if lo.Ready || len(lo.Gate.Checks) != 1 || lo.Gate.Checks[0].Name != CheckConfigured {
		t.Errorf("legacy-only gate %+v", lo.Gate)
	}
}

func verdicts(match, mismatch, asyncErr int64) Verdicts {
	v := newVerdicts()
	v[cutover.VerdictMatch], v[cutover.VerdictMismatch], v[cutover.VerdictAsyncError] = match, mismatch, asyncErr
	return v
}

// TestJSONShape checks the keys scripts rely on (the design's operating
// surface), independently of the Go types.
func TestJSONShape(t *testing.T) {
	rep, err := fixtureReporter(t).Report(context.Background(), Query{Workflow: "get-order", Since: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, FormatJSON, rep); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	has := func(m map[string]any, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("missing key %q in %v", k, m)
			}
		}
	}
	has(doc, "generated_at", "workflows")
	ws := doc["workflows"].([]any)
	if len(ws) != 1 {
		t.Fatalf("--workflow get-order gave %d workflows", len(ws))
	}
	w := ws[0].(map[string]any)
	has(w, "name", "mode", "percent", "compared", "verdicts", "match_rate", "top_diffs", "latency_ms", "dlq", "ready", "gate")
	has(w["verdicts"].(map[string]any), "match", "mismatch", "async_error", "legacy_error", "async_missing", "not_comparable")
	lat := w["latency_ms"].(map[string]any)
	has(lat["legacy"].(map[string]any), "p50", "p99")
	has(lat["async"].(map[string]any), "p50", "p99")
	has(w["gate"].(map[string]any), "ready", "checks")
	if _, ok := w["top_diffs"].([]any); !ok {
		t.Errorf("top_diffs is %T, want a list even when empty", w["top_diffs"])
	}
}

func TestReporterGate(t *testing.T) {
	r := fixtureReporter(t)
	ctx := context.Background()
	g, err := r.Gate(ctx, "get-order")
	if err != nil || !g.Ready {
		t.Errorf("Gate(get-order) = %+v, %v", g, err)
	}
	g, err = r.Gate(ctx, "create-order")
	wantFailed := []string{"min_match_rate: got 0.00%, want >= 90%", "max_async_errors: got 2 (0 async_error, 2 async_missing), want <= 0"}
	if diff := cmp.Diff(wantFailed, g.Failed()); err != nil || g.Ready || diff != "" {
		t.Errorf("Gate(create-order) = %+v, %v; failed checks (-want +got):\n%s", g, err, diff)
	}
	if _, err := r.Gate(ctx, "nope"); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("Gate(nope) error = %v, want ErrNotFound", err)
	}
}

func TestEvaluateGate(t *testing.T) {
	yes, no := true, false
	dlq := func(n int64) *int64 { return &n }
	base := cutover.GateConfig{MinComparisons: 1000, MinMatchRate: 0.999, MaxAsyncErrors: 0}
	v := func(match, mismatch, asyncErr, missing, legacyErr int64) map[cutover.Verdict]int64 {
		return map[cutover.Verdict]int64{
			cutover.VerdictMatch: match, cutover.VerdictMismatch: mismatch, cutover.VerdictAsyncError: asyncErr,
			cutover.VerdictAsyncMissing: missing, cutover.VerdictLegacyError: legacyErr,
		}
	}
	tests := []struct {
		name   string
		cfg    cutover.GateConfig
		stats  GateStats
		ready  bool
		failed []string
	}{
		{"exactly at the rate", base, GateStats{Verdicts: v(999, 1, 0, 0, 0), DLQ: dlq(0)}, true, nil},
		{"just below the rate", base, GateStats{Verdicts: v(1998, 3, 0, 0, 0), DLQ: dlq(0)}, false,
			[]string{"min_match_rate: got 99.85%, want >= 99.9%"}},
		{"legacy errors are not evidence", base, GateStats{Verdicts: v(990, 0, 0, 0, 500), DLQ: dlq(0)}, false,
			[]string{"min_comparisons: got 990, want >= 1000"}},
		{"missing async counts as an error", base, GateStats{Verdicts: v(5000, 0, 0, 1, 0), DLQ: dlq(0)}, false,
			[]string{"max_async_errors: got 1 (0 async_error, 1 async_missing), want <= 0"}},
		{"nothing compared", base, GateStats{Verdicts: nil, DLQ: dlq(0)}, false,
			[]string{"min_comparisons: got 0, want >= 1000", "min_match_rate: got n/a (nothing compared), want >= 99.9%"}},
		{"dlq not empty", base, GateStats{Verdicts: v(1000, 0, 0, 0, 0), DLQ: dlq(3)}, false, []string{"dlq_empty: got 3, want 0"}},
		{"dlq unknown", base, GateStats{Verdicts: v(1000, 0, 0, 0, 0)}, false, []string{"dlq_empty: got unknown, want 0"}},
		{"dlq explicitly required", cutover.GateConfig{MinComparisons: 1, MinMatchRate: 1, RequireEmptyDLQ: &yes}, GateStats{Verdicts: v(1, 0, 0, 0, 0), DLQ: dlq(0)}, true, nil},
		{"dlq not required", cutover.GateConfig{MinComparisons: 1, MinMatchRate: 1, RequireEmptyDLQ: &no}, GateStats{Verdicts: v(1, 0, 0, 0, 0), DLQ: dlq(9)}, true, nil},
		{"allowed async errors", cutover.GateConfig{MinComparisons: 10, MinMatchRate: 0.8, MaxAsyncErrors: 2, RequireEmptyDLQ: &no}, GateStats{Verdicts: v(9, 0, 1, 1, 0)}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.stats.Workflow = "w"
			got := EvaluateGate(tt.cfg, tt.stats)
			if got.Ready != tt.ready || got.Workflow != "w" {
				t.Errorf("ready = %v, want %v: %+v", got.Ready, tt.ready, got)
			}
			if diff := cmp.Diff(tt.failed, got.Failed()); diff != "" {
				t.Errorf("failed checks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoiseThresholds(t *testing.T) {
	agg := func(compared int64, count int64, distinct int) *cutover.Aggregate {
		a := cutover.NewAggregate("w", 0, now)
		a.Verdicts[cutover.VerdictMismatch] = compared
		st := &cutover.PathStat{Count: count}
		for i := range distinct {
			st.Values = append(st.Values, strings.Repeat("a", i+1))
		}
		a.Paths["$.x"] = st
		return a
	}
	tests := []struct {
		name            string
		compared, count int64
		distinct        int
		suggested       bool
	}{
		{"ids: always different, always new", 1000, 1000, 32, true},
		{"half the slots filled", 1000, 990, 16, true},
		{"a constant wrong value", 1000, 1000, 1, false},
		{"an enum", 1000, 1000, 6, false},
		{"differs too rarely", 1000, 900, 32, false},
		{"exactly 95%", 100, 95, 32, true},
		{"small sample, all distinct", 20, 20, 20, true},
		{"small sample, few distinct", 20, 20, 9, false},
		{"too little evidence", 19, 19, 19, false},
	}
	for _, tt := range tests {
		got := noise(agg(tt.compared, tt.count, tt.distinct), nil)
		if (len(got.Paths) == 1) != tt.suggested {
			t.Errorf("%s: suggested = %v, want %v", tt.name, len(got.Paths) == 1, tt.suggested)
		}
	}
}

func TestIgnoreYAMLRoundTrips(t *testing.T) {
	rules := []string{"$.order_id", "$.items[*].line_id", `$["odd key"]`, `$["quote\"d"]`, "$.*", `$["tab	key"]`, `$["back\\slash"]`}
	var got struct{ Compare cutover.CompareConfig }
	text := ignoreYAML(rules)
	if err := yaml.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	if diff := cmp.Diff(rules, got.Compare.Ignore); diff != "" {
		t.Errorf("round trip of\n%s(-want +got):\n%s", text, diff)
	}
	if !strings.HasPrefix(text, "compare:\n  ignore: [$.order_id, ") {
		t.Errorf("plain paths should stay unquoted: %s", text)
	}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	hostile := `$["<script>alert(1)</script>"]`
	rep := &Report{GeneratedAt: now, Since: now.Add(-time.Hour), Until: now, Workflows: []Workflow{{
		Name: `x"><img src=x onerror=alert(1)>`, Mode: cutover.ModeShadow, Verdicts: verdicts(1, 1, 0), Compared: 2,
		TopDiffs: []PathCount{{Path: hostile, Count: 1, Examples: []string{"<b>id</b>"}}},
		Gate:     cutover.GateResult{Checks: []cutover.GateCheck{{Name: "min_comparisons", Got: "<i>2</i>", Want: ">= 1000"}}},
		Noise:    Noise{Paths: []NoisePath{{Path: hostile}}, YAML: ignoreYAML([]string{hostile})},
	}}}
	var buf bytes.Buffer
	if err := Render(&buf, FormatHTML, rep); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script", "<img", "<b>id", "<i>2", "http://", "https://", `src="`, "@import", "url(", "<link"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, "<style>") {
		t.Error("hostile path not shown escaped, or CSS not inline")
	}
}

func TestTextEscapesControlCharacters(t *testing.T) {
	rep := &Report{GeneratedAt: now, Since: now, Until: now, Workflows: []Workflow{{
		Name: "w", Verdicts: newVerdicts(), TopDiffs: []PathCount{{Path: "$[\"\x1b[2J\"]", Count: 1}},
	}}}
	for _, f := range []Format{FormatText, FormatMarkdown} {
		var buf bytes.Buffer
		if err := Render(&buf, f, rep); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), "\x1b") || !strings.Contains(buf.String(), `\x1b[2J`) {
			t.Errorf("%s: escape sequence not neutralised:\n%s", f, buf.String())
		}
	}
}

type fakeQueue map[string]cutover.QueueStats

func (q fakeQueue) QueueStats(_ context.Context, name string) (cutover.QueueStats, error) {
	st, ok := q[name]
	if !ok {
		return cutover.QueueStats{}, cutover.ErrNotFound
	}
	return st, nil
}

func TestQueueDLQ(t *testing.T) {
	cfg := &cutover.Config{Workflows: []cutover.WorkflowConfig{{Name: "w", Steps: []cutover.StepConfig{{Name: "stock"}, {Name: "mail"}}}}}
	q := QueueDLQ{Queue: fakeQueue{
		"w--respond--dlq": {Visible: 2, InFlight: 1},
		"w--stock--dlq":   {Delayed: 4},
		"w--respond":      {Visible: 100}, // not a DLQ
	}, Config: cfg}
	n, err := q.DLQDepth(context.Background(), "w")
	if err != nil || n != 7 {
		t.Errorf("DLQDepth = %d, %v; want 7", n, err)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"text": FormatText, "JSON": FormatJSON, "md": FormatMarkdown, "markdown": FormatMarkdown, "html": FormatHTML} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("pdf"); err == nil {
		t.Error("ParseFormat(pdf) accepted")
	}
}
