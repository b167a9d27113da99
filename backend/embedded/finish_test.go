package embedded

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

func TestFinish(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "f.db"), Durability: DurabilityNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var _ cutover.Finisher = db

	start := func(t *testing.T) (cutover.IdempotencyKey, string, int64) {
		t.Helper()
		id := cutover.NewEventID()
		k := cutover.IdempotencyKey{Workflow: "w", Step: "respond", Key: id}
		c, err := db.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: id, Lease: time.Minute})
		if err != nil || c.State != cutover.ClaimAcquired {
			t.Fatalf("claim: %+v, %v", c, err)
		}
		if _, err := db.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
			t.Fatal(err)
		}
		return k, id, c.Epoch
	}
	out := &cutover.Outcome{Status: 201, Body: cutover.Body(`{"ok":true}`), At: time.Now().UTC()}
	succeeded := []cutover.Transition{{Kind: cutover.TransitionStarted}, {Kind: cutover.TransitionSucceeded}}
	kinds := func(id string) []cutover.TransitionKind {
		h, err := db.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var ks []cutover.TransitionKind
		for _, tr := range h {
			ks = append(ks, tr.Kind)
		}
		return ks
	}

	// The rest of Finish's behaviour is checked by the conformance suite
	// (backend/backendtest), which runs here too; this is the one case it
	// cannot make on every backend: a claimed epoch above the holder's.
	t.Run("refusals write nothing", func(t *testing.T) {
		k, id, epoch := start(t)
		pair := &cutover.PairRef{Workflow: "w", EventID: id}
		if _, err := db.Finish(ctx, cutover.Finish{Key: k, Epoch: epoch + 1, Outcome: out, Pair: pair, EventID: id, Expect: 1, Transitions: succeeded}); !errors.Is(err, cutover.ErrFenced) {
			t.Errorf("stale epoch: %v, want ErrFenced", err)
		}
		if _, err := db.Finish(ctx, cutover.Finish{Key: k, Epoch: epoch, Outcome: out, Pair: pair, EventID: id, Expect: 0, Transitions: succeeded}); !errors.Is(err, cutover.ErrVersionConflict) {
			t.Errorf("stale version: %v, want ErrVersionConflict", err)
		}
		rec, _ := db.IdempotencyRecord(ctx, k)
		_, perr := db.OutcomePair(ctx, id, 0)
		if rec.Completed || !errors.Is(perr, cutover.ErrNotFound) || len(kinds(id)) != 1 {
			t.Errorf("after refusals: completed %v, pair %v, log %v; want nothing written", rec.Completed, perr, kinds(id))
		}
	})
}
