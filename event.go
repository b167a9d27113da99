package cutover

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// SchemaVersion is the version of the event encoding this build writes.
// Decoding rejects any other version rather than guessing at its meaning.
const SchemaVersion = 1

// RespondStep is the step whose outcome answers the client in live mode and is
// what the comparator diffs. Every workflow has it.
const RespondStep = "respond"

// Event is the immutable envelope of one unit of work. The proxy creates the
// intake event of a request; fan-out and follow-up events are derived from it
// with Child. Nothing changes an Event after it is published: state lives in
// the transition log, results in outcomes.
type Event struct {
	ID             string    `json:"id"` // UUIDv7: time-ordered
	Workflow       string    `json:"workflow"`
	Step           string    `json:"step"`
	Mode           EventMode `json:"mode"`
	IdempotencyKey string    `json:"idempotency_key"`
	CorrelationID  string    `json:"correlation_id"`         // shared by every event of one request
	CausationID    string    `json:"causation_id,omitempty"` // the event this one was derived from
	TraceParent    string    `json:"traceparent,omitempty"`  // W3C trace context
	TraceState     string    `json:"tracestate,omitempty"`   //
	ReceivedAt     time.Time `json:"received_at"`            //
	ReplayEpoch    int       `json:"replay_epoch,omitempty"` // 0 for the original run, n for the n-th replay
	Request        Request   `json:"request"`
}

// Request is the HTTP request an event carries, after redaction.
type Request struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query,omitempty"`
	Header http.Header `json:"header,omitempty"`
	Body   Body        `json:"body,omitempty"`
	// BodyRef is the content address of a body moved to the blob store
	// (claim check); Body is then empty and BodySize still counts the bytes.
	BodyRef  string `json:"body_ref,omitempty"`
	BodySize int64  `json:"body_size,omitempty"`
}

// NewEventID returns a fresh time-ordered event id (UUIDv7).
func NewEventID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// EventIDTime returns the time a UUIDv7 event id (NewEventID) was made
// at, to the millisecond; ok is false for any other id.
func EventIDTime(id string) (t time.Time, ok bool) {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		return time.Time{}, false
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec).UTC(), true
}

// Child derives a new event for step from e: a new id, the same workflow,
// mode, correlation id, trace context and replay epoch, and e as its cause.
// key is the child's idempotency key; callers derive it deterministically so
// that a retried parent emits children that deduplicate.
func (e *Event) Child(step, key string, req Request, now time.Time) *Event {
	return &Event{
		ID:             NewEventID(),
		Workflow:       e.Workflow,
		Step:           step,
		Mode:           e.Mode,
		IdempotencyKey: key,
		CorrelationID:  e.CorrelationID,
		CausationID:    e.ID,
		TraceParent:    e.TraceParent,
		TraceState:     e.TraceState,
		ReceivedAt:     now.UTC(),
		ReplayEpoch:    e.ReplayEpoch,
		Request:        req,
	}
}

// ChildKey is the idempotency key of the n-th follow-up event a handler emits
// to step while processing parent: stable across retries of the parent.
func ChildKey(parent *Event, step string, n int) string {
	return parent.IdempotencyKey + "/" + step + "/" + strconv.Itoa(n)
}

// PayloadHash identifies what an event asks for, so that the same idempotency
// key with a different payload is detected as a conflict. Headers are left
// out: they carry per-delivery noise (trace ids, dates). An inline body and
// the same body behind a claim check hash alike.
func (e *Event) PayloadHash() string {
	content := e.Request.BodyRef
	if content == "" {
		content = BlobRef(e.Request.Body)
	}
	h := sha256.New()
	for _, s := range []string{e.Request.Method, e.Request.Path, e.Request.Query, content} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// BlobRef is the content address of data in a blob store: "sha256:<hex>".
func BlobRef(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
