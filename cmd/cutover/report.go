package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/comparator/report"
)

func newReportCmd(g *globals) *cobra.Command {
	var workflow, format string
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "report [--workflow W] [--since DUR] [--format text|json|markdown|html]",
		Short: "Diff report: verdicts, differing paths with examples, latency of both sides, readiness gate",
		Long: `Reports how the async outcomes compare with legacy over a time window, per workflow:
verdict counts and match rate, the paths that differ most (with example event ids), mismatch
fingerprints, latency p50/p99 of both sides, DLQ depth, the readiness gate, replay epochs
(before/after), and suggested ignore rules for noisy paths.
Formats: text (terminal), json (for scripts), markdown (to paste into a ticket), html (one file).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := report.ParseFormat(format)
			if err != nil {
				return &exitError{code: exitInvalid, err: fmt.Errorf("--format: %w", err)}
			}
			if since < 0 {
				return &exitError{code: exitInvalid, err: fmt.Errorf("--since %s: must be positive", since)}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if workflow != "" {
				if _, ok := cfg.Workflow(workflow); !ok {
					return &exitError{code: exitInvalid, err: fmt.Errorf("--workflow %q is not in the config", workflow)}
				}
			}
			stores, err := openStores(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer stores.Close()
			rep, err := newReporter(cfg, stores).Report(cmd.Context(), report.Query{Workflow: workflow, Since: since})
			if err != nil {
				return err
			}
			return report.Render(cmd.OutOrStdout(), f, rep)
		},
	}
	cmd.Flags().StringVar(&workflow, "workflow", "", "only this workflow")
	cmd.Flags().DurationVar(&since, "since", report.DefaultSince, "window: how far back to look")
	cmd.Flags().StringVar(&format, "format", "text", "text, json, markdown or html")
	return cmd
}
