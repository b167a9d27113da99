package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/comparator"
	"github.com/cutover-dev/cutover/pipeline"
	"github.com/cutover-dev/cutover/redact"
	"github.com/cutover-dev/cutover/telemetry"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var workflows []string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Process events: receive, run handlers idempotently with retries, dead-letter failures",
		Long: `Runs the steps of every workflow in the config (or only --workflow ones): receives events from
each step's queue, claims the idempotency key, calls the step's handler with retries and backoff,
records the outcome and the transition log, and moves events that cannot succeed to the DLQ.
Serves Prometheus metrics on worker.metrics_listen. Stops gracefully on SIGINT/SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			log := newLogger(os.Stderr, cfg.Log)
			ctx := cmd.Context()
			reg := prometheus.NewRegistry()
			stores, err := openStores(ctx, cfg, backendOptions{registerer: reg, logger: log})
			if err != nil {
				return err
			}
			defer stores.Close()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
				pipeline.NewQueueCollector(cfg, stores.Queue))
			tracing := telemetry.NewTracing("worker")
			defer tracing.Provider.Shutdown(context.Background())
			cmp, err := comparator.New(cfg, comparator.Stores{Outcomes: stores.Outcomes, Comparisons: stores.Comparisons, Transitions: stores.Transitions, Blobs: stores.Blobs},
				comparator.ServiceOptions{Logger: log, Registerer: reg})
			if err != nil {
				return err
			}
			redactors, err := redact.NewSet(cfg)
			if err != nil {
				return err
			}
			pub := newPublisher(cfg, stores)
			w, err := pipeline.New(cfg, pipeline.WorkerStores{
				Queue: stores.Queue, Idempotency: stores.Idempotency, Transitions: stores.Transitions,
				Outcomes: stores.Outcomes, Blobs: stores.Blobs,
			}, pub, pipeline.Options{Workflows: workflows, Logger: log, Registerer: reg, Pairs: cmp, Tracer: tracing.Tracer, Redact: redactors.Outcome})
			if err != nil {
				return err
			}
			// Workers also sweep for pairs whose other side never came
			// (async_missing); several sweepers are safe: each pair is
			// completed, and so compared, once.
			sweepDone := make(chan struct{})
			go func() { defer close(sweepDone); _ = cmp.Run(ctx) }()
			defer func() { <-sweepDone }()
			srv := &http.Server{Addr: cfg.Worker.MetricsListen, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), ReadHeaderTimeout: 5 * time.Second}
			go func() {
				if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("metrics listener failed", "addr", cfg.Worker.MetricsListen, "err", err)
				}
			}()
			defer func() {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			return w.Run(ctx)
		},
	}
	cmd.Flags().StringSliceVar(&workflows, "workflow", nil, "run only this workflow (repeatable)")
	return cmd
}
