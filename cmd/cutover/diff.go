package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/comparator"
	"github.com/cutover-dev/cutover/comparator/report"
)

func newDiffCmd(g *globals) *cobra.Command {
	var epoch, width, context int
	var format string
	cmd := &cobra.Command{
		Use:   "diff EVENT_ID",
		Short: "Show one comparison side by side, differing paths marked",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := report.ParseFormat(format)
			if err != nil || (f != report.FormatText && f != report.FormatJSON) {
				return &exitError{code: exitInvalid, err: fmt.Errorf("--format %q: want text or json", format)}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			stores, err := openStores(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer stores.Close()
			ctx, id := cmd.Context(), args[0]
			pair, err := stores.Outcomes.OutcomePair(ctx, id, epoch)
			if errors.Is(err, cutover.ErrNotFound) {
				return fmt.Errorf("event %s has no outcomes at epoch %d (not mirrored, or not yet processed)", id, epoch)
			}
			if err != nil {
				return err
			}
			stored, err := stores.Comparisons.Comparison(ctx, id, epoch)
			if err != nil && !errors.Is(err, cutover.ErrNotFound) {
				return err
			}
			svc, err := comparator.New(cfg, comparator.Stores{Outcomes: stores.Outcomes, Comparisons: stores.Comparisons, Transitions: stores.Transitions, Blobs: stores.Blobs}, comparator.ServiceOptions{})
			if err != nil {
				return err
			}
			e := svc.Rules(pair.Workflow).Explain(pair, stored)
			return report.RenderDiff(cmd.OutOrStdout(), f, e, report.DiffOptions{Width: width, Context: context})
		},
	}
	cmd.Flags().IntVar(&epoch, "epoch", 0, "replay epoch (0: the original run)")
	cmd.Flags().IntVar(&width, "width", 60, "width of each side, in characters")
	cmd.Flags().IntVar(&context, "context", 3, "unchanged lines shown around each difference (0: all)")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}
