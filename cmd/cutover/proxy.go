package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/admin"
	"github.com/cutover-dev/cutover/comparator"
	"github.com/cutover-dev/cutover/comparator/report"
	"github.com/cutover-dev/cutover/flags"
	"github.com/cutover-dev/cutover/pipeline"
	"github.com/cutover-dev/cutover/proxy"
	"github.com/cutover-dev/cutover/redact"
	"github.com/cutover-dev/cutover/telemetry"
)

// shutdownTimeout bounds each stage of a graceful stop.
const shutdownTimeout = 15 * time.Second

func newProxyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "proxy",
		Short: "Serve traffic: pass through to legacy, mirror shadow events, serve canary and cutover live",
		Long: `Runs the proxy on 'listen' in front of 'legacy': each workflow's route is served as its flag says
(off, shadow, canary percent, cutover); everything else passes through untouched. Shadow events are
published without ever blocking the client. Also runs the admin listener (admin.listen: flag API,
/metrics, /api/report) and refreshes flags from the backend every proxy.flag_refresh.
Stops gracefully on SIGINT/SIGTERM: in-flight requests finish, buffered events are written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			log := newLogger(os.Stderr, cfg.Log)
			stack, err := newProxyStack(cmd.Context(), cfg, g.tokensPath(cfg), log)
			if err != nil {
				return err
			}
			defer stack.stores.Close()
			return stack.run(cmd.Context())
		},
	}
}

// tokensPath resolves admin.tokens_file against the config file's folder.
func (g *globals) tokensPath(cfg *cutover.Config) string {
	p := cfg.Admin.TokensFile
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(g.resolvedConfigPath()), p)
}

// proxyStack is everything `cutover proxy` runs, wired.
type proxyStack struct {
	cfg       *cutover.Config
	log       *slog.Logger
	stores    cutover.Stores
	proxy     *proxy.Proxy
	snapshot  *flags.Snapshot
	refresher *flags.Refresher
	admin     *admin.Server
	tracing   *telemetry.Tracing
	handler   http.Handler
	compare   *comparator.Service
}

func newProxyStack(ctx context.Context, cfg *cutover.Config, tokensFile string, log *slog.Logger) (*proxyStack, error) {
	tokens, err := admin.LoadTokens(tokensFile, os.Getenv(admin.EnvToken))
	if err != nil {
		return nil, err
	}
	if tokens.Len() == 0 {
		log.Warn("no admin token configured: the admin API refuses every request (set admin.tokens_file or " + admin.EnvToken + ")")
	}
	reg := prometheus.NewRegistry()
	stores, err := openStores(ctx, cfg, backendOptions{registerer: reg, logger: log})
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			stores.Close()
		}
	}()
	if err := pipeline.EnsureTopology(ctx, stores.Queue, cfg); err != nil {
		return nil, err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &proxyStack{cfg: cfg, log: log, stores: stores, tracing: telemetry.NewTracing("proxy")}

	snap, err := flags.NewSnapshot(cfg, flags.SnapshotOptions{Registerer: reg})
	if err != nil {
		return nil, err
	}
	s.snapshot = snap
	if s.refresher, err = flags.NewRefresher(stores.Flags, snap, flags.RefresherOptions{Interval: cfg.Proxy.FlagRefresh.D(), Logger: log, Registerer: reg}); err != nil {
		return nil, err
	}
	if err := s.refresher.Refresh(ctx); err != nil {
		log.Warn("flags not loaded from the backend at start; serving the config's modes until they are", "err", err)
	}
	if s.compare, err = comparator.New(cfg, comparator.Stores{Outcomes: stores.Outcomes, Comparisons: stores.Comparisons, Transitions: stores.Transitions, Blobs: stores.Blobs},
		comparator.ServiceOptions{Logger: log, Registerer: reg}); err != nil {
		return nil, err
	}
	redactors, err := redact.NewSet(cfg)
	if err != nil {
		return nil, err
	}
	pub := newPublisher(cfg, stores)
	// Live events travel whole; what is stored is redacted. The proxy
	// builds shadow events redacted already: they are stored as they are,
	// encoded once for their message and their archive.
	pub.ArchiveCopy = func(e *cutover.Event) *cutover.Event {
		if e.Mode == cutover.EventShadow {
			return e
		}
		return redactors.Event(e)
	}
	if s.proxy, err = proxy.New(cfg, proxy.Deps{
		Decider: snap, Publisher: pub, Outcomes: stores.Outcomes, Pairs: s.compare,
		OutcomePairs: stores.Outcomes, History: stores.Transitions, Events: stores.Archive, Blobs: stores.Blobs,
		Registerer: reg, Logger: log,
	}); err != nil {
		return nil, err
	}
	s.handler = s.tracing.Middleware(s.proxy.Handler())

	reporter := newReporter(cfg, stores)
	svc, err := flags.NewService(stores.Flags, cfg, reporter, flags.ServiceOptions{Snapshot: snap, Logger: log})
	if err != nil {
		return nil, err
	}
	if s.admin, err = admin.New(admin.Options{Addr: cfg.Admin.Listen, Tokens: tokens, Flags: svc, Logger: log}); err != nil {
		return nil, err
	}
	if err := s.admin.Mount("/metrics", admin.RolePublic, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})); err != nil {
		return nil, err
	}
	if err := s.admin.Mount("/api/report", admin.RoleViewer, reportHandler(reporter)); err != nil {
		return nil, err
	}
	// Profiles for operators chasing latency or CPU (go tool pprof).
	if err := s.admin.Mount("/debug/pprof", admin.RoleOperator, pprofMux()); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// run serves until ctx ends, then stops in order: the listener (in-flight
// requests finish), the shadow buffer (drained to the backend), the rest.
func (s *proxyStack) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("proxy: listen %s: %w", s.cfg.Listen, err)
	}
	return s.serve(ctx, ln)
}

func (s *proxyStack) serve(ctx context.Context, ln net.Listener) error {
	defer s.tracing.Provider.Shutdown(context.Background())
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	errc := make(chan error, 4)
	go func() { errc <- s.proxy.Run(bg) }()
	go func() { errc <- s.refresher.Run(bg) }()
	go func() { errc <- s.admin.Run(bg) }()
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("proxy started", "listen", ln.Addr().String(), "legacy", s.cfg.Legacy, "admin", s.cfg.Admin.Listen)

	var first error
	select {
	case <-ctx.Done():
	case err := <-served:
		first = fmt.Errorf("proxy: serve: %w", err)
	case err := <-errc:
		if err != nil {
			first = err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("in-flight requests cut short", "err", err)
	}
	if err := s.proxy.Shutdown(sctx); err != nil {
		s.log.Warn("shadow buffer not fully drained", "err", err)
	}
	stopBG()
	s.log.Info("proxy stopped")
	return first
}

// reportHandler serves the report as JSON, or in another format with
// ?format=html|markdown|text, for the admin listener.
func reportHandler(rep *report.Reporter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		var since time.Duration
		if v := q.Get("since"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				http.Error(w, "since: want a positive duration such as 1h", http.StatusBadRequest)
				return
			}
			since = d
		}
		name := q.Get("format")
		if name == "" {
			name = "json"
		}
		f, err := report.ParseFormat(name)
		if err != nil {
			http.Error(w, "format: "+err.Error(), http.StatusBadRequest)
			return
		}
		r, err := rep.Report(req.Context(), report.Query{Workflow: q.Get("workflow"), Since: since})
		if err != nil {
			http.Error(w, "report unavailable, try again", http.StatusServiceUnavailable)
			return
		}
		switch f {
		case report.FormatJSON:
			w.Header().Set("Content-Type", "application/json")
		case report.FormatHTML:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		default:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		_ = report.Render(w, f, r)
	})
}

// pprofMux serves the runtime profiles under /debug/pprof/.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
