package comparator

import (
	"context"
	"time"

	"github.com/cutover-dev/cutover"
)

// The Service uses these parts of the backend; each is a subset of the root
// package's interfaces, so any cutover backend satisfies them.

// Outcomes pairs outcomes (cutover.OutcomeStore).
type Outcomes interface {
	PutOutcome(ctx context.Context, workflow, eventID string, epoch int, side cutover.Side, o *cutover.Outcome) (cutover.OutcomePair, bool, error)
	OutcomePair(ctx context.Context, eventID string, epoch int) (cutover.OutcomePair, error)
	Unpaired(ctx context.Context, before time.Time, limit int) ([]cutover.OutcomePair, error)
}

// Comparisons stores comparisons write-once (cutover.ComparisonStore).
type Comparisons interface {
	SaveComparison(ctx context.Context, c *cutover.Comparison) error
	Comparison(ctx context.Context, eventID string, epoch int) (*cutover.Comparison, error)
}

// Transitions is an event's version-checked log (cutover.TransitionLog).
type Transitions interface {
	Append(ctx context.Context, eventID string, expect int, ts ...cutover.Transition) (int, error)
	History(ctx context.Context, eventID string) ([]cutover.Transition, error)
}

// Blobs loads bodies stored behind a claim check (cutover.BlobStore).
type Blobs interface {
	Blob(ctx context.Context, ref string) ([]byte, error)
}

// Stores is what a Service needs. Blobs may be nil when bodies are always
// inline.
type Stores struct {
	Outcomes    Outcomes
	Comparisons Comparisons
	Transitions Transitions
	Blobs       Blobs
}
