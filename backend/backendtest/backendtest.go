// Package backendtest is the conformance suite every cutover backend runs:
// it checks the documented semantics of each interface in the root
// package's store.go against a live backend.
//
// A backend's test calls Run with a function that opens its stores:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) cutover.Stores {
//			db := open(t) // may register its own cleanup with t.Cleanup
//			return db.Stores()
//		})
//	}
//
// Run opens the stores once and shares them between all subtests, which
// isolate themselves with unique queue names, workflows, keys and event
// ids, and run in parallel; the suite takes about 7 s. Queue timings use
// whole seconds (SQS visibility has one-second granularity), idempotency
// leases fractions of one.
//
// Where store.go leaves a choice open, the suite pins one, so that callers
// can rely on it whichever backend they run on:
//   - Send, Receive and QueueStats on a queue never ensured wrap
//     cutover.ErrNotFound; ChangeVisibility with the receipt of an earlier
//     delivery, or of a deleted message, wraps cutover.ErrStaleReceipt.
//   - Message.ID is non-empty, distinct per message, and the same on every
//     delivery of a message; attributes and bodies round-trip.
//   - Time ranges are [Since, Until), on EventQuery, ComparisonQuery and
//     Aggregates; ComparisonQuery.Epoch 0 selects epoch 0 (-1 any).
//   - Events and Comparisons are ordered by id, and AfterID resumes after
//     an id; Unpaired is oldest first.
//   - Stored times, outcomes, events, comparisons and flags come back
//     deep-equal (cmp.Diff), times in UTC; raw JSON in a PathDiff keeps its
//     bytes.
//   - A refused write (ErrVersionConflict, ErrAlreadyRecorded, ErrFenced)
//     changes nothing.
package backendtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

// Run runs the conformance suite. newStores is called once; Run calls the
// stores' Close when every subtest is done, so Close must tolerate being
// called again by a cleanup of the caller's own.
func Run(t *testing.T, newStores func(t *testing.T) cutover.Stores) {
	t.Helper()
	s := newStores(t)
	if s.Close != nil {
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("closing the stores: %v", err)
			}
		})
	}
	groups := []struct {
		name string
		run  func(*testing.T, cutover.Stores)
	}{
		{"Queue", testQueue},
		{"Idempotency", testIdempotency},
		{"Transitions", testTransitions},
		{"StartLogs", testStartLogs},
		{"Finish", testFinish},
		{"Archive", testArchive},
		{"Outcomes", testOutcomes},
		{"Comparisons", testComparisons},
		{"Blobs", testBlobs},
		{"Flags", testFlags},
	}
	// Optional capabilities are checked where a backend has them.
	if _, ok := s.Archive.(cutover.Registrar); ok {
		groups = append(groups, struct {
			name string
			run  func(*testing.T, cutover.Stores)
		}{"Register", testRegister})
	}
	if _, ok := s.Archive.(cutover.StartDeferrer); ok {
		groups = append(groups, struct {
			name string
			run  func(*testing.T, cutover.Stores)
		}{"Deferred", testDeferred})
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, s)
		})
	}
}

// uniq returns prefix followed by random hex: a name no other subtest, and
// no earlier run against the same backend, uses. It fits SQS queue names.
func uniq(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// testContext bounds every call of one subtest.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually retries check until it reports ok or timeout passes, then
// fails the test with the last explanation.
func eventually(t *testing.T, timeout time.Duration, check func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %v: %s", timeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fixedTime is a UTC time with sub-second digits, to catch precision loss.
func fixedTime() time.Time {
	return time.Date(2024, 5, 17, 10, 30, 15, 123456789, time.UTC)
}
