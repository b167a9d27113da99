package cutover

import "time"

// TransitionKind names one step in an event's life.
type TransitionKind string

const (
	TransitionReceived       TransitionKind = "received"        // published into the pipeline
	TransitionStarted        TransitionKind = "attempt_started" // a worker claimed it
	TransitionRetryScheduled TransitionKind = "retry_scheduled" // attempt failed; Delay says when next
	TransitionSucceeded      TransitionKind = "succeeded"       // outcome recorded
	TransitionDuplicate      TransitionKind = "duplicate"       // key already completed: stored outcome reused
	TransitionConflict       TransitionKind = "conflict"        // key reused with another payload: not executed
	TransitionFenced         TransitionKind = "fenced"          // a stale attempt's completion was refused
	TransitionReleased       TransitionKind = "released"        // handed back unfinished (shutdown)
	TransitionEmitted        TransitionKind = "emitted"         // a follow-up event was published; Detail is its id
	TransitionDeadLettered   TransitionKind = "dead_lettered"   // moved to the DLQ; Detail is the last error
	TransitionReplayed       TransitionKind = "replayed"        // re-published by cutover replay
	TransitionCompared       TransitionKind = "compared"        // the comparator reached a verdict
)

// Terminal reports whether k ends an attempt chain: nothing follows except
// replay and comparison.
func (k TransitionKind) Terminal() bool {
	return k == TransitionSucceeded || k == TransitionDuplicate || k == TransitionDeadLettered
}

// Transition is one entry of an event's append-only log. Seq starts at 1 and
// is the log's version after this entry.
type Transition struct {
	Seq     int            `json:"seq"`
	Kind    TransitionKind `json:"kind"`
	At      time.Time      `json:"at"`
	Attempt int            `json:"attempt,omitempty"`
	Epoch   int64          `json:"epoch,omitempty"` // lease epoch (fencing token) of the attempt
	Delay   Duration       `json:"delay,omitempty"` // backoff before the next attempt
	Detail  string         `json:"detail,omitempty"`
	Worker  string         `json:"worker,omitempty"`
}

// EventState is where an event stands, derived from its log.
type EventState string

const (
	StateUnknown      EventState = "unknown"
	StateQueued       EventState = "queued"
	StateRunning      EventState = "running"
	StateRetrying     EventState = "retrying"
	StateSucceeded    EventState = "succeeded"
	StateDeadLettered EventState = "dead_lettered"
)

// StateOf derives an event's state from its history.
func StateOf(history []Transition) EventState {
	state := StateUnknown
	for _, t := range history {
		switch t.Kind {
		case TransitionReceived, TransitionReleased, TransitionReplayed:
			state = StateQueued
		case TransitionStarted:
			state = StateRunning
		case TransitionRetryScheduled, TransitionFenced:
			state = StateRetrying
		case TransitionSucceeded, TransitionDuplicate:
			state = StateSucceeded
		case TransitionDeadLettered, TransitionConflict:
			state = StateDeadLettered
		}
	}
	return state
}
