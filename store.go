package cutover

import (
	"context"
	"time"
)

// The storage interfaces below are what every backend implements and what
// backend/backendtest checks. They follow the shape of SQS, DynamoDB and S3
// (batches, visibility timeouts, receive counts, conditional writes, claim
// checks) so that the AWS backend maps onto them one to one, and the embedded
// SQLite backend gives the same semantics on one machine.

// Queue is a set of named queues with SQS semantics: at-least-once delivery,
// visibility timeouts, receive counts and dead-letter redrive.
type Queue interface {
	// EnsureQueue creates the queue (and its redrive policy) if needed.
	EnsureQueue(ctx context.Context, spec QueueSpec) error
	// Send enqueues messages. Backends split batches as their service needs.
	// A partial failure is a *BatchError naming the entries that failed.
	Send(ctx context.Context, queue string, msgs []OutgoingMessage) error
	// Receive returns up to opt.Max visible messages, hiding them for
	// opt.Visibility; it waits up to opt.Wait for the first one.
	Receive(ctx context.Context, queue string, opt ReceiveOptions) ([]Message, error)
	// Delete acknowledges messages. A stale receipt is ignored.
	Delete(ctx context.Context, queue string, receipts []string) error
	// ChangeVisibility hides an in-flight message for timeout from now
	// (extends a lease, or schedules a retry); 0 makes it visible at once.
	// ErrStaleReceipt if the delivery is no longer in flight.
	ChangeVisibility(ctx context.Context, queue, receipt string, timeout time.Duration) error
	// QueueStats reports depth and the age of the oldest message.
	QueueStats(ctx context.Context, queue string) (QueueStats, error)
}

// QueueSpec describes a queue. A message received more than MaxReceiveCount
// times moves to DeadLetter on its next receive (a backstop for workers that
// crash on a message; workers dead-letter failing events themselves).
type QueueSpec struct {
	Name            string
	DeadLetter      string // empty: no redrive
	MaxReceiveCount int
}

// OutgoingMessage is a message to send. ID identifies it within the batch
// (the event id) so that failures can be reported per entry.
type OutgoingMessage struct {
	ID         string
	Body       []byte
	Delay      time.Duration
	Attributes map[string]string
}

// Message is one delivery of a message.
type Message struct {
	ID           string // stable across deliveries
	Receipt      string // names this delivery; needed to delete or extend
	Body         []byte
	Attributes   map[string]string
	ReceiveCount int // 1 on the first delivery
	SentAt       time.Time
}

// ReceiveOptions bounds one receive call.
type ReceiveOptions struct {
	Max        int           // 1..10
	Visibility time.Duration // how long received messages stay hidden
	Wait       time.Duration // long-poll time when nothing is visible
}

// QueueStats describes a queue's backlog.
type QueueStats struct {
	Visible   int64         `json:"visible"`
	InFlight  int64         `json:"in_flight"`
	Delayed   int64         `json:"delayed"`
	OldestAge time.Duration `json:"oldest_age"`
}

// BatchError reports the entries of a batch call that failed.
type BatchError struct {
	Failed map[string]error // by OutgoingMessage.ID
}

func (e *BatchError) Error() string {
	for id, err := range e.Failed {
		if len(e.Failed) == 1 {
			return "batch: entry " + id + ": " + err.Error()
		}
		return "batch: " + itoa(len(e.Failed)) + " entries failed, e.g. " + id + ": " + err.Error()
	}
	return "batch: failed"
}

// IdempotencyKey scopes an idempotency record. The pipeline folds the event
// mode and replay epoch into Key so that shadow runs never satisfy live ones.
type IdempotencyKey struct {
	Workflow string
	Step     string
	Key      string
}

// ClaimState is the answer to a claim.
type ClaimState int

const (
	// ClaimAcquired: the caller holds the lease with Claim.Epoch.
	ClaimAcquired ClaimState = iota + 1
	// ClaimCompleted: the key was completed; Claim.Outcome is the stored result.
	ClaimCompleted
	// ClaimBusy: another attempt holds an unexpired lease until Claim.LeaseUntil.
	ClaimBusy
	// ClaimConflict: the key was used with a different payload by Claim.EventID.
	ClaimConflict
)

// ClaimRequest asks for the lease on a key.
type ClaimRequest struct {
	Key         IdempotencyKey
	PayloadHash string
	EventID     string
	Lease       time.Duration
}

// Claim is the result of IdempotencyStore.Claim.
type Claim struct {
	State      ClaimState
	Epoch      int64    // fencing token when Acquired
	Outcome    *Outcome // when Completed
	EventID    string   // the event that holds or completed the key
	LeaseUntil time.Time
}

// IdempotencyRecord is the stored state of a key.
type IdempotencyRecord struct {
	Key         IdempotencyKey `json:"key"`
	Completed   bool           `json:"completed"`
	Epoch       int64          `json:"epoch"`
	PayloadHash string         `json:"payload_hash"`
	EventID     string         `json:"event_id"`
	LeaseUntil  time.Time      `json:"lease_until"`
	Outcome     *Outcome       `json:"outcome,omitempty"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

// IdempotencyStore gives exactly-once effect over at-least-once delivery.
// A key is IN_PROGRESS under a lease with an epoch, then COMPLETED with its
// outcome. A claim on an IN_PROGRESS key whose lease expired takes it over
// with epoch+1, after which the old holder's writes fail with ErrFenced.
type IdempotencyStore interface {
	Claim(ctx context.Context, req ClaimRequest) (Claim, error)
	ExtendLease(ctx context.Context, key IdempotencyKey, epoch int64, lease time.Duration) error
	Complete(ctx context.Context, key IdempotencyKey, epoch int64, o *Outcome) error
	// Release gives up the lease so that the next claim succeeds at once.
	Release(ctx context.Context, key IdempotencyKey, epoch int64) error
	IdempotencyRecord(ctx context.Context, key IdempotencyKey) (*IdempotencyRecord, error)
}

// TransitionLog is the append-only, version-checked history of each event.
type TransitionLog interface {
	// Append adds ts after the expect-th entry (the version the writer last
	// read; 0 for a new event) and returns the new version. Seq and, when
	// zero, At are filled in. ErrVersionConflict if the log has moved on.
	Append(ctx context.Context, eventID string, expect int, ts ...Transition) (int, error)
	// History returns an event's transitions in order; empty if none.
	History(ctx context.Context, eventID string) ([]Transition, error)
}

// LogStarter is implemented by transition logs that start many events' logs
// in one write. It is optional: the publisher, which starts a log for every
// event it publishes, falls back to one Append per event.
type LogStarter interface {
	// StartLogs appends each entry as entry 1 (version 1) of its event's
	// log; an event whose log already has entries is left as it is (a
	// publish retried), which is not an error.
	StartLogs(ctx context.Context, first []LogStart) error
}

// LogStart is the first entry of one event's log.
type LogStart struct {
	EventID    string
	Transition Transition
}

// Finisher is implemented by backends that record the end of a successful
// attempt in one atomic write: complete the idempotency key, record the
// async side of the outcome pair, and append to the event's log. It is
// optional; without it the worker makes the three calls.
type Finisher interface {
	// Finish checks everything first and writes nothing unless all holds:
	// ErrFenced (or ErrAlreadyRecorded, ErrNotFound) as Complete would
	// return, ErrVersionConflict as Append would. A pair side that is
	// already recorded is left as it is (Complete is then false).
	Finish(ctx context.Context, f Finish) (FinishResult, error)
}

// Finish is the end of a successful attempt.
type Finish struct {
	Key     IdempotencyKey
	Epoch   int64
	Outcome *Outcome
	// Pair, when set, records Outcome as the async side of this pair.
	Pair *PairRef
	// EventID's log gets Transitions appended after version Expect.
	EventID     string
	Expect      int
	Transitions []Transition
	// Start, when set, is the event's deferred start (StartDeferrer),
	// written with this finish unless it is there already; its legacy
	// side then pairs with Outcome.
	Start *DeferredStart
}

// PairRef names one outcome pair.
type PairRef struct {
	Workflow string
	EventID  string
	Epoch    int
}

// FinishResult is what a Finish wrote: the log's new version and, when it
// recorded a pair side, the pair and whether this write completed it.
type FinishResult struct {
	Version  int
	Pair     OutcomePair
	Complete bool
}

// Registrar is implemented by archives that record the start of many
// events with one write each: the archived copy, entry 1 of its log (left
// as it is if the log has entries) and, when given, the legacy side of its
// outcome pair (left as it is if recorded). It is optional: the publisher
// falls back to Archive, StartLogs and PutOutcome, which cost a write each.
type Registrar interface {
	// Register returns the pairs that a legacy side it recorded completed
	// (the async side was there already: a publish retried after the
	// event ran); whoever completes a pair compares it.
	Register(ctx context.Context, regs []Registration) ([]OutcomePair, error)
}

// StartDeferrer is implemented by archives that can archive events without
// a write per event: each event's start (where it is archived, and the
// legacy side of its pair) is then written with its first finish
// (Finish.Start), and its first log entry with its first log write. The
// publisher uses it for shadow events, whose starts nobody reads before
// they run; the sweeper finds the ones that never finish in the archive.
// A backend that implements it implements Finisher too.
type StartDeferrer interface {
	// ArchiveDeferred archives the events, with the legacy sides given,
	// and returns each event's archive reference by id (for Finish.Start).
	ArchiveDeferred(ctx context.Context, regs []Registration) (map[string]string, error)
}

// DeferredStart is what an event archived by ArchiveDeferred has not had
// written yet.
type DeferredStart struct {
	Ref    string   // the archive reference ArchiveDeferred returned
	Legacy *Outcome // the legacy side of the pair, if any
}

// Registration is the start of one event.
type Registration struct {
	Event  *Event     // the copy to archive
	First  Transition // entry 1 of its log
	Legacy *Outcome   // optional: the legacy side of the pair of Event.ReplayEpoch
	// Encoded, when set, is EncodeEvent(Event) (ReceivedAt in UTC): the
	// publisher encodes each event once, for its message and its archive.
	Encoded []byte
}

// EventQuery selects archived events. Zero fields do not filter.
type EventQuery struct {
	Workflow      string
	Step          string
	CorrelationID string
	Since, Until  time.Time // on ReceivedAt
	AfterID       string    // resume after this id (ids are time-ordered)
	Limit         int       // 0: backend default (1000)
}

// EventArchive keeps every published event for audit and replay.
type EventArchive interface {
	// Archive stores events; storing an id again is a no-op.
	Archive(ctx context.Context, evs ...*Event) error
	Event(ctx context.Context, id string) (*Event, error)
	// Events returns matching events ordered by id.
	Events(ctx context.Context, q EventQuery) ([]*Event, error)
}

// Side names one half of an outcome pair.
type Side string

const (
	SideLegacy Side = "legacy"
	SideAsync  Side = "async"
)

// OutcomePair is the legacy and async outcome of one event in one epoch.
type OutcomePair struct {
	EventID   string    `json:"event_id"`
	Epoch     int       `json:"epoch"`
	Workflow  string    `json:"workflow"`
	Legacy    *Outcome  `json:"legacy,omitempty"`
	Async     *Outcome  `json:"async,omitempty"`
	CreatedAt time.Time `json:"created_at"` // when the first side arrived
}

// OutcomeStore pairs outcomes so that exactly one writer compares each pair.
type OutcomeStore interface {
	// PutOutcome records one side. complete is true for exactly one caller
	// per pair: the one whose write made it whole; that caller compares.
	// Recording a side twice is ErrAlreadyRecorded and changes nothing.
	PutOutcome(ctx context.Context, workflow, eventID string, epoch int, side Side, o *Outcome) (pair OutcomePair, complete bool, err error)
	OutcomePair(ctx context.Context, eventID string, epoch int) (OutcomePair, error)
	// Unpaired lists pairs with one side only, whose first side arrived
	// before `before`, oldest first.
	Unpaired(ctx context.Context, before time.Time, limit int) ([]OutcomePair, error)
}

// ComparisonQuery selects comparisons. Zero fields do not filter, except
// Epoch: it selects one epoch, and -1 means any (the zero value is epoch 0,
// the original run).
type ComparisonQuery struct {
	Workflow     string
	Verdict      Verdict
	Epoch        int
	Since, Until time.Time // on ComparedAt
	AfterID      string
	Limit        int
}

// ComparisonStore keeps comparisons and their per-minute aggregates.
type ComparisonStore interface {
	// SaveComparison stores c and folds it into the aggregate of its
	// workflow, epoch and minute, both or neither. ErrAlreadyRecorded if
	// (EventID, Epoch) was compared before.
	SaveComparison(ctx context.Context, c *Comparison) error
	Comparison(ctx context.Context, eventID string, epoch int) (*Comparison, error)
	Comparisons(ctx context.Context, q ComparisonQuery) ([]*Comparison, error)
	// Aggregates returns the aggregates of workflow (all if empty) with
	// minutes in [since, until), ordered by workflow, epoch, minute.
	Aggregates(ctx context.Context, workflow string, since, until time.Time) ([]*Aggregate, error)
}

// BlobStore holds content-addressed blobs (claim checks for large bodies).
// Blobs are never deleted when a message is acknowledged.
type BlobStore interface {
	// PutBlob stores data and returns BlobRef(data).
	PutBlob(ctx context.Context, data []byte) (string, error)
	Blob(ctx context.Context, ref string) ([]byte, error)
}

// FlagStore keeps workflow flags with version-checked updates and an
// append-only history.
type FlagStore interface {
	Flags(ctx context.Context) ([]Flag, error)
	Flag(ctx context.Context, workflow string) (Flag, error)
	// SetFlag writes f if the stored version is f.Version-1 (0: no flag yet),
	// and appends change, both or neither. ErrVersionConflict otherwise.
	SetFlag(ctx context.Context, f Flag, change FlagChange) error
	FlagHistory(ctx context.Context, workflow string) ([]FlagChange, error)
}

// Stores bundles one backend's implementations for wiring in cmd/cutover.
// Consumers take the single interface they need.
type Stores struct {
	Queue       Queue
	Idempotency IdempotencyStore
	Transitions TransitionLog
	Archive     EventArchive
	Outcomes    OutcomeStore
	Comparisons ComparisonStore
	Blobs       BlobStore
	Flags       FlagStore
	Close       func() error
}

// QueueName is the queue of a workflow step; DeadLetterName its DLQ.
func QueueName(workflow, step string) string { return workflow + "--" + step }

// DeadLetterName is the dead-letter queue of a workflow step.
func DeadLetterName(workflow, step string) string { return QueueName(workflow, step) + "--dlq" }
