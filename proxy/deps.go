package proxy

import (
	"context"
	"log/slog"

	"github.com/cutover-dev/cutover"
	"github.com/prometheus/client_golang/prometheus"
)

// Decider routes one request from the current flag snapshot.
type Decider interface {
	Decide(workflow, bucketKey string) cutover.Decision
}

// Publisher archives and enqueues events. It may be slow or fail when the
// backend is down; publishing the same events again must be safe.
type Publisher interface {
	Publish(ctx context.Context, evs ...*cutover.Event) error
}

// LegacyPublisher is a Publisher that also records each shadow event's
// legacy side as it publishes it (pipeline.Publisher.PublishWithLegacy);
// the proxy uses it when its Publisher has it, so that a shadow event
// costs no separate outcome write. It returns the pairs those sides
// completed (a publish retried after the event ran), for comparing.
type LegacyPublisher interface {
	PublishWithLegacy(ctx context.Context, evs []*cutover.Event, legacy []*cutover.Outcome) ([]cutover.OutcomePair, error)
}

// OutcomeRecorder records one side of an outcome pair
// (cutover.OutcomeStore.PutOutcome).
type OutcomeRecorder interface {
	PutOutcome(ctx context.Context, workflow, eventID string, epoch int, side cutover.Side, o *cutover.Outcome) (cutover.OutcomePair, bool, error)
}

// PairHandler compares a pair; the proxy calls it when its PutOutcome
// completed the pair.
type PairHandler interface {
	HandlePair(ctx context.Context, pair cutover.OutcomePair) error
}

// PairReader reads an outcome pair (cutover.OutcomeStore.OutcomePair);
// cutover.ErrNotFound when neither side is recorded.
type PairReader interface {
	OutcomePair(ctx context.Context, eventID string, epoch int) (cutover.OutcomePair, error)
}

// HistoryReader reads an event's transition log (cutover.TransitionLog).
type HistoryReader interface {
	History(ctx context.Context, eventID string) ([]cutover.Transition, error)
}

// EventReader reads an archived event (cutover.EventArchive).
type EventReader interface {
	Event(ctx context.Context, id string) (*cutover.Event, error)
}

// BlobReader resolves a claim-checked body (cutover.BlobStore).
type BlobReader interface {
	Blob(ctx context.Context, ref string) ([]byte, error)
}

// Deps are what the proxy consumes. Decider, Publisher, Outcomes, Pairs,
// OutcomePairs and History are required.
type Deps struct {
	Decider      Decider
	Publisher    Publisher
	Outcomes     OutcomeRecorder
	Pairs        PairHandler
	OutcomePairs PairReader
	History      HistoryReader
	// Events, when set, names the workflow of a status request whose
	// outcome pair does not exist yet.
	Events EventReader
	// Blobs, when set, resolves async outcomes whose body was moved to the
	// blob store; without it such an outcome cannot be served.
	Blobs BlobReader
	// Registerer receives the proxy's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}
