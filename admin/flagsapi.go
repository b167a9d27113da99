package admin

import (
	"context"
	"net/http"

	cutover "github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/flags"
	"github.com/go-chi/chi/v5"
)

// FlagService is what the API needs of *flags.Service.
type FlagService interface {
	List(ctx context.Context) ([]cutover.Flag, error)
	Get(ctx context.Context, workflow string) (cutover.Flag, error)
	History(ctx context.Context, workflow string) ([]cutover.FlagChange, error)
	Set(ctx context.Context, req flags.SetRequest) (flags.Result, error)
	Rollback(ctx context.Context, workflow, reason, by string) (flags.Result, error)
	RollbackAll(ctx context.Context, reason, by string) ([]flags.Result, error)
}

// setBody is the body of PUT /api/flags/{workflow}.
type setBody struct {
	Mode    cutover.Mode `json:"mode"`
	Percent float64      `json:"percent"`
	Reason  string       `json:"reason"`
	Force   bool         `json:"force"`
}

// rollbackBody is the optional body of the rollback routes.
type rollbackBody struct {
	Reason string `json:"reason"`
}

const (
	setFields      = "{mode, percent, reason, force}"
	rollbackFields = "{reason}"
)

func (s *Server) routeFlags(r chi.Router) {
	r.With(s.requireMW(RoleViewer)).Get("/", s.listFlags)
	r.With(s.requireMW(RoleOperator)).Post("/rollback", s.rollbackAll)
	r.With(s.requireMW(RoleViewer)).Get("/{workflow}", s.getFlag)
	r.With(s.requireMW(RoleOperator)).Put("/{workflow}", s.setFlag)
	r.With(s.requireMW(RoleOperator)).Post("/{workflow}/rollback", s.rollback)
	r.With(s.requireMW(RoleViewer)).Get("/{workflow}/history", s.history)
}

func (s *Server) requireMW(need Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return s.require(need, next) }
}

// by is the name the flag history records for the request's token.
func by(r *http.Request) string {
	id, _ := IdentityFrom(r.Context())
	return id.Name
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := errorResponse(err)
	if status >= 500 {
		s.log.Error("admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, body)
}

func (s *Server) listFlags(w http.ResponseWriter, r *http.Request) {
	fs, err := s.flags.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Flags []cutover.Flag `json:"flags"`
	}{fs})
}

func (s *Server) getFlag(w http.ResponseWriter, r *http.Request) {
	f, err := s.flags.Get(r.Context(), chi.URLParam(r, "workflow"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "workflow")
	h, err := s.flags.History(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if h == nil {
		h = []cutover.FlagChange{}
	}
	writeJSON(w, http.StatusOK, struct {
		Workflow string               `json:"workflow"`
		History  []cutover.FlagChange `json:"history"`
	}{name, h})
}

func (s *Server) setFlag(w http.ResponseWriter, r *http.Request) {
	var b setBody
	if status, eb := decodeBody(w, r, &b, false, setFields); eb != nil {
		writeError(w, status, *eb)
		return
	}
	res, err := s.flags.Set(r.Context(), flags.SetRequest{
		Workflow: chi.URLParam(r, "workflow"), Mode: b.Mode, Percent: b.Percent,
		Reason: b.Reason, By: by(r), Force: b.Force,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	var b rollbackBody
	if status, eb := decodeBody(w, r, &b, true, rollbackFields); eb != nil {
		writeError(w, status, *eb)
		return
	}
	res, err := s.flags.Rollback(r.Context(), chi.URLParam(r, "workflow"), b.Reason, by(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) rollbackAll(w http.ResponseWriter, r *http.Request) {
	var b rollbackBody
	if status, eb := decodeBody(w, r, &b, true, rollbackFields); eb != nil {
		writeError(w, status, *eb)
		return
	}
	res, err := s.flags.RollbackAll(r.Context(), b.Reason, by(r))
	if res == nil {
		res = []flags.Result{}
	}
	if err != nil {
		status, body := errorResponse(err)
		body.Results = res
		s.log.Error("admin: rollback of every workflow failed in part", "err", err)
		writeError(w, status, body)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Results []flags.Result `json:"results"`
	}{res})
}
