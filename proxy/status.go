package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

const statusTimeout = 5 * time.Second

// statusBody answers GET {status_prefix}/requests/{id}.
type statusBody struct {
	ID       string             `json:"id"`
	Workflow string             `json:"workflow,omitempty"`
	State    cutover.EventState `json:"state"`
	Outcome  *cutover.Outcome   `json:"outcome,omitempty"` // the async outcome, once there is one
}

// serveStatus reports where an event stands (from its transition log) and
// its async outcome when done. Unknown ids are 404.
func (p *Proxy) serveStatus(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := uuid.Parse(id); err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown request id"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	st, err := p.status(ctx, id)
	switch {
	case errors.Is(err, cutover.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown request id"})
	case err != nil:
		p.log.Warn("proxy: status", "event_id", id, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "status is unavailable, try again"})
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

func (p *Proxy) status(ctx context.Context, id string) (*statusBody, error) {
	if p.events != nil {
		// Only live requests are the client's to look up: a shadow event's
		// async outcome is for the diff, not for the public listener.
		ev, err := p.events.Event(ctx, id)
		if err == nil && ev.Mode != cutover.EventLive {
			return nil, cutover.ErrNotFound
		}
		if err != nil && !errors.Is(err, cutover.ErrNotFound) {
			return nil, err
		}
	}
	hist, err := p.history.History(ctx, id)
	if err != nil && !errors.Is(err, cutover.ErrNotFound) {
		return nil, err
	}
	pair, err := p.pairsR.OutcomePair(ctx, id, 0)
	found := err == nil
	if err != nil && !errors.Is(err, cutover.ErrNotFound) {
		return nil, err
	}
	st := &statusBody{ID: id, Workflow: pair.Workflow, State: cutover.StateOf(hist)}
	if st.Workflow == "" && p.events != nil {
		ev, err := p.events.Event(ctx, id)
		switch {
		case err == nil:
			st.Workflow, found = ev.Workflow, true
		case !errors.Is(err, cutover.ErrNotFound):
			return nil, err
		}
	}
	if !found && len(hist) == 0 {
		return nil, cutover.ErrNotFound
	}
	if pair.Async != nil {
		o := *pair.Async
		if o.BodyRef != "" && p.blobs != nil {
			if b, err := p.blobs.Blob(ctx, o.BodyRef); err == nil {
				o.Body, o.BodyRef = b, ""
			}
		}
		st.Outcome = &o
	}
	return st, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only plain values are passed here
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
