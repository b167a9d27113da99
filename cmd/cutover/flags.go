package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/flags"
)

// Exit codes of flag changes, for scripts.
const (
	exitInvalid = 2 // the request itself is wrong
	exitGate    = 3 // refused by the readiness gate (--force overrides)
)

func newFlagsCmd(g *globals) *cobra.Command {
	var asJSON bool
	var by string
	cmd := &cobra.Command{
		Use:   "flags",
		Short: "List, change and roll back per-workflow flags (mode off|shadow|canary|cutover, percent)",
		Long: `Flags say who serves each workflow. Changes are version-checked, recorded in an append-only
history (who, when, why, from, to) and picked up by every proxy within proxy.flag_refresh.
Promotions past shadow check the workflow's readiness gate; --force overrides it and is recorded.
Exit codes: 2 invalid request, 3 refused by the readiness gate.`,
	}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.PersistentFlags().StringVar(&by, "by", "", "who makes the change, for the history (default: $USER@host)")

	withService := func(run func(cmd *cobra.Command, svc *flags.Service, who string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			stores, err := openStores(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer stores.Close()
			svc, err := flags.NewService(stores.Flags, cfg, newReporter(cfg, stores), flags.ServiceOptions{})
			if err != nil {
				return err
			}
			who := by
			if who == "" {
				who = defaultActor()
			}
			return flagExit(run(cmd, svc, who))
		}
	}
	out := func(cmd *cobra.Command, v any, text func(io.Writer)) error {
		if asJSON {
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		text(cmd.OutOrStdout())
		return nil
	}

	list := &cobra.Command{Use: "list", Short: "Show every workflow's flag", Args: cobra.NoArgs}
	list.RunE = withService(func(cmd *cobra.Command, svc *flags.Service, _ string) error {
		fs, err := svc.List(cmd.Context())
		if err != nil {
			return err
		}
		return out(cmd, fs, func(w io.Writer) { printFlags(w, fs...) })
	})

	get := &cobra.Command{Use: "get WORKFLOW", Short: "Show one workflow's flag", Args: cobra.ExactArgs(1)}
	get.RunE = func(cmd *cobra.Command, args []string) error {
		return withService(func(cmd *cobra.Command, svc *flags.Service, _ string) error {
			f, err := svc.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return out(cmd, f, func(w io.Writer) { printFlags(w, f) })
		})(cmd, args)
	}

	var mode, reason string
	var percent float64
	var force bool
	set := &cobra.Command{
		Use:   "set WORKFLOW --mode MODE [--percent P] --reason TEXT [--force]",
		Short: "Change a workflow's mode (and canary percent)",
		Args:  cobra.ExactArgs(1),
	}
	set.Flags().StringVar(&mode, "mode", "", "off, shadow, canary or cutover (required)")
	set.Flags().Float64Var(&percent, "percent", 0, "canary share of requests, 0.01 to 100")
	set.Flags().StringVar(&reason, "reason", "", "why, for the history (required)")
	set.Flags().BoolVar(&force, "force", false, "promote even if the readiness gate fails (recorded)")
	set.RunE = func(cmd *cobra.Command, args []string) error {
		m, err := cutover.ParseMode(mode)
		if err != nil {
			return &exitError{code: exitInvalid, err: fmt.Errorf("--mode: %w", err)}
		}
		return withService(func(cmd *cobra.Command, svc *flags.Service, who string) error {
			res, err := svc.Set(cmd.Context(), flags.SetRequest{Workflow: args[0], Mode: m, Percent: percent, Reason: reason, By: who, Force: force})
			if err != nil {
				return err
			}
			return out(cmd, res, func(w io.Writer) { printResult(w, res) })
		})(cmd, args)
	}

	var all bool
	rollback := &cobra.Command{
		Use:   "rollback WORKFLOW | rollback --all",
		Short: "Send a workflow (or every workflow) back to shadow at once: legacy serves",
		Args: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) || len(args) > 1 {
				return &exitError{code: exitInvalid, err: errors.New("rollback takes one WORKFLOW or --all")}
			}
			return nil
		},
	}
	rollback.Flags().BoolVar(&all, "all", false, "roll back every workflow")
	rollback.Flags().StringVar(&reason, "reason", "", "why, for the history (default \"rollback\")")
	rollback.RunE = func(cmd *cobra.Command, args []string) error {
		return withService(func(cmd *cobra.Command, svc *flags.Service, who string) error {
			if all {
				res, err := svc.RollbackAll(cmd.Context(), reason, who)
				if perr := out(cmd, res, func(w io.Writer) {
					for _, r := range res {
						printResult(w, r)
					}
				}); perr != nil {
					return perr
				}
				return err
			}
			res, err := svc.Rollback(cmd.Context(), args[0], reason, who)
			if err != nil {
				return err
			}
			return out(cmd, res, func(w io.Writer) { printResult(w, res) })
		})(cmd, args)
	}

	history := &cobra.Command{Use: "history WORKFLOW", Short: "Show a workflow's flag changes, oldest first", Args: cobra.ExactArgs(1)}
	history.RunE = func(cmd *cobra.Command, args []string) error {
		return withService(func(cmd *cobra.Command, svc *flags.Service, _ string) error {
			h, err := svc.History(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return out(cmd, h, func(w io.Writer) { printHistory(w, h) })
		})(cmd, args)
	}
	cmd.AddCommand(list, get, set, rollback, history)
	return cmd
}

// flagExit maps the flag service's errors to exit codes.
func flagExit(err error) error {
	var inv *flags.InvalidError
	var gate *flags.GateError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &gate):
		return &exitError{code: exitGate, err: err}
	case errors.As(err, &inv), errors.Is(err, flags.ErrUnknownWorkflow):
		return &exitError{code: exitInvalid, err: err}
	}
	return err
}

func defaultActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host + " (cli)"
}

func printFlags(w io.Writer, fs ...cutover.Flag) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKFLOW\tMODE\tPERCENT\tVERSION\tUPDATED\tBY\tREASON")
	for _, f := range fs {
		updated := "-"
		if !f.UpdatedAt.IsZero() {
			updated = f.UpdatedAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", f.Workflow, f.Mode, percentText(f), f.Version, updated, orDash(f.UpdatedBy), orDash(f.Reason))
	}
	tw.Flush()
}

func printResult(w io.Writer, r flags.Result) {
	if r.Change == nil {
		fmt.Fprintf(w, "%s: already %s%s, nothing changed\n", r.Flag.Workflow, r.Flag.Mode, pctSuffix(r.Flag.Mode, r.Flag.Percent))
		return
	}
	c := r.Change
	forced := ""
	if c.Forced {
		forced = " (FORCED past the readiness gate: " + c.GateDetail + ")"
	}
	fmt.Fprintf(w, "%s: %s%s -> %s%s, version %d%s\n", c.Workflow, c.FromMode, pctSuffix(c.FromMode, c.FromPercent), c.ToMode, pctSuffix(c.ToMode, c.ToPercent), c.Version, forced)
}

func printHistory(w io.Writer, h []cutover.FlagChange) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tAT\tBY\tFROM\tTO\tREASON")
	for _, c := range h {
		reason := c.Reason
		if c.Forced {
			reason += " [forced: " + c.GateDetail + "]"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s%s\t%s%s\t%s\n", c.Version, c.At.Local().Format(time.DateTime), c.By, c.FromMode, pctSuffix(c.FromMode, c.FromPercent), c.ToMode, pctSuffix(c.ToMode, c.ToPercent), reason)
	}
	tw.Flush()
}

func percentText(f cutover.Flag) string {
	if f.Mode != cutover.ModeCanary {
		return "-"
	}
	return strconv.FormatFloat(f.Percent, 'f', -1, 64) + "%"
}

func pctSuffix(m cutover.Mode, p float64) string {
	if m != cutover.ModeCanary {
		return ""
	}
	return " " + strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
