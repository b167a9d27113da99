package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/comparator/report"
	"github.com/cutover-dev/cutover/examples/orders"
)

// The demo runs the whole loop; its JSON report must hold exactly the
// verdicts its traffic implies.
func TestDemoJSONReport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	res, err := runDemo(ctx, &out, io.Discard, demoOptions{shadow: 400, live: 200, asJSON: true, logLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("demo took %s, want under a minute", d)
	}
	var rep report.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("demo --json printed something else: %v\n%s", err, out.String())
	}
	if len(rep.Workflows) != 1 {
		t.Fatalf("%d workflows in the report", len(rep.Workflows))
	}
	w := rep.Workflows[0]

	mismatched := 0
	for _, r := range orders.Traffic(7, 400) {
		if orders.BuggyDiffers(r) {
			mismatched++
		}
	}
	if res.Mismatched != mismatched || res.Replayed != mismatched {
		t.Errorf("mismatched %d, replayed %d; the buggy version differs on %d requests", res.Mismatched, res.Replayed, mismatched)
	}
	async := res.Served["canary"] + res.Served["cutover"]
	want := map[cutover.Verdict]int64{
		cutover.VerdictMatch:         int64(400 + 600 - async), // legacy answered, mirrored, fixed by replay
		cutover.VerdictMismatch:      0,
		cutover.VerdictAsyncError:    0,
		cutover.VerdictLegacyError:   0,
		cutover.VerdictAsyncMissing:  0,
		cutover.VerdictNotComparable: int64(async), // writes the async side answered: legacy never called
	}
	got := map[cutover.Verdict]int64{}
	for v, n := range w.Verdicts {
		got[v] = n
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("final verdicts (-want +got):\n%s", diff)
	}
	if w.Mode != cutover.ModeShadow || !w.Ready || w.Superseded != int64(mismatched) {
		t.Errorf("mode %s, ready %v, superseded %d; want shadow after the rollback, ready, %d replaced", w.Mode, w.Ready, w.Superseded, mismatched)
	}
	if len(w.Epochs) != 2 || w.Epochs[0].Verdicts[cutover.VerdictMismatch] != int64(mismatched) || w.Epochs[1].Verdicts[cutover.VerdictMatch] != int64(mismatched) {
		t.Errorf("epochs = %+v, want epoch 0 with %d mismatches and epoch 1 matching them all", w.Epochs, mismatched)
	}
	if res.Served["shadow"] != 0 || res.Served["cutover"] != 200 || res.Served["rollback"] != 0 {
		t.Errorf("served by async per phase = %v; want none in shadow and after rollback, all in cutover", res.Served)
	}
	// The gate refused canary while mismatches stood, then let it through,
	// unforced, once the replay had fixed them.
	if !strings.Contains(res.GateRefusal, "readiness gate") || !strings.Contains(res.GateRefusal, "min_match_rate") {
		t.Errorf("gate refusal = %q, want the failed min_match_rate check", res.GateRefusal)
	}
	var modes []string
	for _, c := range res.Promotions {
		modes = append(modes, string(c.ToMode))
		if c.Forced {
			t.Errorf("flag change %d was forced past the gate", c.Version)
		}
	}
	if diff := cmp.Diff([]string{"canary", "cutover", "shadow"}, modes); diff != "" {
		t.Errorf("flag history (-want +got):\n%s", diff)
	}
	if c := res.Served["canary"]; c == 0 || c == 200 {
		t.Errorf("canary 10%% sent %d of 200 requests to async", c)
	}
}
