package cutover

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on. Backends wrap them with %w.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrVersionConflict: a version-checked write lost to a concurrent one;
	// re-read and decide again.
	ErrVersionConflict = errors.New("version conflict")
	// ErrFenced: the writer's lease epoch is no longer current, so a newer
	// attempt owns the work and this write is refused.
	ErrFenced = errors.New("fenced: a newer attempt holds the lease")
	// ErrAlreadyRecorded: a write-once record (one side of an outcome pair,
	// a comparison) already exists; nothing was changed.
	ErrAlreadyRecorded = errors.New("already recorded")
	// ErrIdempotencyConflict: an idempotency key was reused with a different
	// payload; the event is not executed.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different payload")
	// ErrStaleReceipt: a queue receipt no longer names an in-flight delivery
	// (its visibility expired and the message was received again).
	ErrStaleReceipt = errors.New("stale receipt")
	// ErrMalformedEvent: an event could not be decoded or lacks a field.
	ErrMalformedEvent = errors.New("malformed event")
	// ErrUnknownSchemaVersion: an event was written by a schema this build
	// does not know.
	ErrUnknownSchemaVersion = errors.New("unknown event schema version")
	// ErrBodyTooLarge: a body exceeds the configured limit.
	ErrBodyTooLarge = errors.New("body too large")
	// ErrNotPublished: an event was refused or failed before it was
	// enqueued, so nothing will run it; serving the request another way
	// (legacy) cannot execute it twice.
	ErrNotPublished = errors.New("event not published")
	// ErrUnavailable: the backend cannot be reached; the caller may retry.
	ErrUnavailable = errors.New("backend unavailable")
)

// SchemaVersionError reports an event whose schema version is unknown.
type SchemaVersionError struct{ Got int }

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("unknown event schema version %d (this build reads version %d)", e.Got, SchemaVersion)
}

// Is makes errors.Is(err, ErrUnknownSchemaVersion) true.
func (e *SchemaVersionError) Is(target error) bool { return target == ErrUnknownSchemaVersion }

// PermanentError marks a failure that retrying cannot fix: the worker sends
// the event to the dead-letter queue at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that IsPermanent reports true. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err or anything it wraps is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
