package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// DefaultShutdownTimeout is how long Run lets in-flight requests finish.
const DefaultShutdownTimeout = 10 * time.Second

// Options configure a Server.
type Options struct {
	// Addr is the listen address, the config's admin.listen.
	Addr string
	// Tokens authenticate requests; nil or empty refuses every request
	// except /healthz and public mounts.
	Tokens *Tokens
	// Flags serves the flag API (a *flags.Service).
	Flags FlagService
	// Logger receives auth failures and server errors; nil logs nothing.
	Logger *slog.Logger
	// ShutdownTimeout bounds the drain on shutdown; default
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// Server is the admin listener.
type Server struct {
	addr            string
	tokens          *Tokens
	flags           FlagService
	log             *slog.Logger
	shutdownTimeout time.Duration
	router          chi.Router

	mu      sync.Mutex // guards mounted and started
	mounted map[string]bool
	started bool
}

var mountRe = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

// New returns a Server with the flag API and /healthz routed.
func New(opt Options) (*Server, error) {
	if opt.Flags == nil {
		return nil, errors.New("admin: a flag service is required")
	}
	s := &Server{
		addr:            opt.Addr,
		tokens:          opt.Tokens,
		flags:           opt.Flags,
		log:             opt.Logger,
		shutdownTimeout: opt.ShutdownTimeout,
		mounted:         map[string]bool{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = DefaultShutdownTimeout
	}
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, errorBody{Error: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)})
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Route("/api/flags", s.routeFlags)
	s.router = r
	return s, nil
}

// Mount serves h under pattern (the path and everything below it) for
// tokens whose role allows role; RolePublic needs no token. The handler can
// read the caller with IdentityFrom. Call it before Run: routes are fixed
// once the server serves.
func (s *Server) Mount(pattern string, role Role, h http.Handler) error {
	if h == nil {
		return fmt.Errorf("admin: mount %s: nil handler", pattern)
	}
	if !mountRe.MatchString(pattern) {
		return fmt.Errorf("admin: mount %q: want a path such as /metrics or /reports, without a trailing slash or wildcards", pattern)
	}
	switch role {
	case RoleViewer, RoleOperator, RolePublic:
	default:
		return fmt.Errorf("admin: mount %s: role %q is unknown (want viewer, operator or public)", pattern, role)
	}
	for _, p := range []string{"/api/flags", "/healthz"} { // the server's own routes
		if pattern == p || strings.HasPrefix(pattern, p+"/") || strings.HasPrefix(p, pattern+"/") {
			return fmt.Errorf("admin: mount %s: overlaps the server's own route %s", pattern, p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("admin: mount %s: the server is already serving", pattern)
	}
	for p := range s.mounted {
		if pattern == p || strings.HasPrefix(pattern, p+"/") || strings.HasPrefix(p, pattern+"/") {
			return fmt.Errorf("admin: mount %s: overlaps %s, mounted before", pattern, p)
		}
	}
	s.mounted[pattern] = true
	s.router.Mount(pattern, s.require(role, h))
	return nil
}

// Handler returns the server's routes, for tests and for wiring into
// another listener. Mount no longer works once it was called.
func (s *Server) Handler() http.Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	return s.router
}

// Run listens on the configured address and serves until ctx is done, then
// shuts down gracefully (see Serve).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("admin: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then stops accepting connections
// and lets in-flight requests finish for up to the shutdown timeout before
// closing them. Requests are not cancelled by ctx: a flag change under way
// completes. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-errc
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: serve: %w", err)
	}
	return nil
}
