package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	cutover "github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/flags"
)

// errorBody is every error response: what is wrong, and the request field
// at fault when there is one. A gate refusal adds the gate's checks.
type errorBody struct {
	Error  string              `json:"error"`
	Field  string              `json:"field,omitempty"`
	Failed []string            `json:"failed,omitempty"` // "name: got X, want Y"
	Gate   *cutover.GateResult `json:"gate,omitempty"`
	// Results lists what a partly failed rollback of every workflow did.
	Results []flags.Result `json:"results,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, status int, body errorBody) {
	writeJSON(w, status, body)
}

// errorResponse maps a service error to its status and body, so callers can
// branch on the status: 400 a bad field, 404 an unknown workflow, 409 a
// change that kept losing to concurrent ones, 422 a readiness gate refusal,
// 503 the store or gate unreachable.
func errorResponse(err error) (int, errorBody) {
	body := errorBody{Error: err.Error()}
	var (
		inv  *flags.InvalidError
		gate *flags.GateError
	)
	switch {
	case errors.As(err, &inv):
		body.Field = inv.Field
		return http.StatusBadRequest, body
	case errors.Is(err, flags.ErrUnknownWorkflow):
		body.Field = "workflow"
		return http.StatusNotFound, body
	case errors.As(err, &gate):
		body.Failed = gate.Result.Failed()
		body.Gate = &gate.Result
		return http.StatusUnprocessableEntity, body
	case errors.Is(err, cutover.ErrVersionConflict):
		return http.StatusConflict, body
	case errors.Is(err, cutover.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, body
	}
	return http.StatusInternalServerError, body
}
