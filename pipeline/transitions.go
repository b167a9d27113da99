package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// maxAppendTries bounds the optimistic loop: each retry means another writer
// appended in between, which happens a handful of times at most.
const maxAppendTries = 8

// appendLatest appends ts after whatever the log holds now: read the version,
// append at it, and on a conflict read again. It is for entries whose place
// does not depend on what came before (replayed, compared, released).
func appendLatest(ctx context.Context, log cutover.TransitionLog, eventID string, ts ...cutover.Transition) (int, error) {
	for try := 0; ; try++ {
		h, err := log.History(ctx, eventID)
		if err != nil {
			return 0, err
		}
		v, err := log.Append(ctx, eventID, len(h), startedLog(h, ts)...)
		if !errors.Is(err, cutover.ErrVersionConflict) || try >= maxAppendTries {
			return v, err
		}
	}
}

// eventLog is a worker's view of one event's log: it appends at the version
// it last saw and, on a conflict, rereads and lets decide whether the entry
// still applies (another worker may have finished the event meanwhile).
type eventLog struct {
	log     cutover.TransitionLog
	id      string
	version int
	history []cutover.Transition
}

func loadLog(ctx context.Context, log cutover.TransitionLog, id string) (*eventLog, error) {
	h, err := log.History(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return &eventLog{log: log, id: id, version: len(h), history: h}, nil
}

// append adds ts unless, after a conflict, stillValid says the reread history
// makes them moot (it returns false); then it returns errMoot.
func (l *eventLog) append(ctx context.Context, stillValid func([]cutover.Transition) bool, ts ...cutover.Transition) error {
	for try := 0; ; try++ {
		v, err := l.log.Append(ctx, l.id, l.version, ts...)
		if err == nil {
			l.version = v
			l.history = append(l.history, ts...)
			return nil
		}
		if !errors.Is(err, cutover.ErrVersionConflict) || try >= maxAppendTries {
			return fmt.Errorf("transition %s: %w", ts[0].Kind, err)
		}
		h, err := l.log.History(ctx, l.id)
		if err != nil {
			return fmt.Errorf("history: %w", err)
		}
		l.history, l.version = h, len(h)
		ts = startedLog(h, ts)
		if stillValid != nil && !stillValid(h) {
			return errMoot
		}
	}
}

// startedLog drops a deferred received entry from the front of ts when the
// log h has entries: someone wrote the event's start meanwhile. Only that
// entry ever leads a worker's write.
func startedLog(h, ts []cutover.Transition) []cutover.Transition {
	if len(h) > 0 && len(ts) > 1 && ts[0].Kind == cutover.TransitionReceived {
		return ts[1:]
	}
	return ts
}

var errMoot = errors.New("transition no longer applies")

// attempts counts the attempts started since the event was last
// (re)published: a replay starts counting afresh.
func (l *eventLog) attempts() int {
	n := 0
	for _, t := range l.history {
		switch t.Kind {
		case cutover.TransitionStarted:
			n++
		case cutover.TransitionReplayed:
			n = 0
		}
	}
	return n
}

// finished reports whether the event already reached a terminal state.
func finished(h []cutover.Transition) bool {
	s := cutover.StateOf(h)
	return s == cutover.StateSucceeded || s == cutover.StateDeadLettered
}

func notFinished(h []cutover.Transition) bool { return !finished(h) }
