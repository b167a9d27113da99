// Command cutover moves synchronous HTTP workflows onto an event-driven
// pipeline without pausing the business: a proxy mirrors requests as events,
// workers process them idempotently, a comparator diffs the outcomes, and
// per-workflow flags move traffic over with immediate rollback.
//
// Every subcommand lives in its own file; this is the only place where the
// packages are wired together.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The proxy and workers allocate per request and keep little: a
		// larger heap between collections costs memory cheaply and saves
		// CPU on the request path. GOGC in the environment wins.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cutover: "+err.Error())
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries a specific exit code (e.g. 3: refused by the gate).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// globals are the flags every subcommand shares.
type globals struct {
	configPath string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "cutover",
		Short:         "Move synchronous HTTP workflows onto an event-driven pipeline without pausing the business",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "config file (default $CUTOVER_CONFIG or ./cutover.yaml)")
	root.AddCommand(
		newDemoCmd(g),
		newProxyCmd(g),
		newWorkerCmd(g),
		newEventsCmd(g),
		newFlagsCmd(g),
		newReportCmd(g),
		newDiffCmd(g),
		newReplayCmd(g),
		newInitCmd(g),
	)
	return root
}
