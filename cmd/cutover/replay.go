package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/pipeline"
)

func newReplayCmd(g *globals) *cobra.Command {
	var req pipeline.ReplayRequest
	var verdict string
	var since time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay --workflow W [--verdict mismatch] [--dlq] [--since DUR] [--live] [--dry-run]",
		Short: "Re-publish chosen events (by verdict, time, or from the DLQ) as a new replay epoch",
		Long: `Re-publishes events of a workflow so the (fixed) new implementation runs them again. Shadow by
default: each replay is a new epoch with its own comparison against the original legacy response,
so the report shows before and after. --live replays with real effects and respects idempotency
(completed keys return their stored outcome). --dlq takes the events waiting in the workflow's
dead-letter queues. --dry-run lists what would be replayed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Workflow == "" {
				return &exitError{code: exitInvalid, err: fmt.Errorf("--workflow is required")}
			}
			if verdict != "" {
				req.Verdict = cutover.Verdict(verdict)
				if !req.Verdict.Valid() {
					return &exitError{code: exitInvalid, err: fmt.Errorf("--verdict %q is unknown (want one of %v)", verdict, cutover.Verdicts())}
				}
				if req.DLQ {
					return &exitError{code: exitInvalid, err: fmt.Errorf("--verdict and --dlq select differently; give one")}
				}
			}
			if since < 0 {
				return &exitError{code: exitInvalid, err: fmt.Errorf("--since %s: must be positive", since)}
			}
			if since > 0 {
				req.Since = time.Now().Add(-since)
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if _, ok := cfg.Workflow(req.Workflow); !ok {
				return &exitError{code: exitInvalid, err: fmt.Errorf("--workflow %q is not in the config", req.Workflow)}
			}
			stores, err := openStores(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer stores.Close()
			pub := newPublisher(cfg, stores)
			if err := pipeline.EnsureTopology(cmd.Context(), stores.Queue, cfg); err != nil {
				return err
			}
			r := pipeline.NewReplayer(cfg, pipeline.ReplayStores{Queue: stores.Queue, Archive: stores.Archive, Transitions: stores.Transitions, Outcomes: stores.Outcomes, Comparisons: stores.Comparisons}, pub)
			bar := progressBar(cmd.ErrOrStderr())
			if !asJSON && !req.DryRun {
				req.Progress = bar
			}
			res, err := r.Replay(cmd.Context(), req)
			if req.Progress != nil && res.Selected > 0 {
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			mode := "shadow"
			if req.Live {
				mode = "live"
			}
			if req.DryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "dry run: would replay %d events of %s in %s mode %v\n", res.Selected, req.Workflow, mode, res.ByEpoch)
				for _, id := range res.IDs {
					fmt.Fprintln(cmd.OutOrStdout(), "  "+id)
				}
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "replayed %d of %d selected events of %s in %s mode; events per new epoch: %v\n", res.Published, res.Selected, req.Workflow, mode, res.ByEpoch)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Workflow, "workflow", "", "workflow to replay (required)")
	f.StringVar(&verdict, "verdict", "", "only events whose latest comparison has this verdict (e.g. mismatch)")
	f.BoolVar(&req.DLQ, "dlq", false, "replay the events in the workflow's dead-letter queues")
	f.DurationVar(&since, "since", 0, "only events received within this window")
	f.BoolVar(&req.Live, "live", false, "replay with real effects (respects idempotency)")
	f.BoolVar(&req.DryRun, "dry-run", false, "list what would be replayed; publish nothing")
	f.IntVar(&req.Limit, "limit", 0, "at most this many events (0: all)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// progressBar draws [#####.....] done/total on one terminal line.
func progressBar(w io.Writer) func(done, total int) {
	return func(done, total int) {
		const width = 30
		n := 0
		if total > 0 {
			n = done * width / total
		}
		fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
	}
}
