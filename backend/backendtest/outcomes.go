package backendtest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

func testOutcomes(t *testing.T, s cutover.Stores) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, cutover.OutcomeStore)
	}{
		{"ConcurrentSidesCompleteOnce", outcomesConcurrent},
		{"SameSideTwiceIsAlreadyRecorded", outcomesTwice},
		{"EpochsAreSeparatePairs", outcomesEpochs},
		{"Unpaired", outcomesUnpaired},
		{"PairNotFound", outcomesNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s.Outcomes)
		})
	}
}

func legacyOutcome() *cutover.Outcome {
	o := sampleOutcome()
	o.Status = 200
	o.Effects = nil
	return o
}

func asyncOutcome() *cutover.Outcome {
	o := sampleOutcome()
	o.Body = cutover.Body{0xff, 0x00, 'x'} // binary survives too
	o.At = fixedTime().Add(time.Second)
	return o
}

// outcomesConcurrent: legacy and async arrive at once, many times over;
// each time exactly one writer sees the pair complete, holding both.
func outcomesConcurrent(t *testing.T, st cutover.OutcomeStore) {
	ctx := testContext(t)
	wf := uniq("wf")
	legacy, async := legacyOutcome(), asyncOutcome()
	for round := 0; round < 50; round++ {
		id := cutover.NewEventID()
		type result struct {
			pair     cutover.OutcomePair
			complete bool
			err      error
		}
		var res [2]result
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, side := range []cutover.Side{cutover.SideLegacy, cutover.SideAsync} {
			o := legacy
			if side == cutover.SideAsync {
				o = async
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res[i].pair, res[i].complete, res[i].err = st.PutOutcome(ctx, wf, id, 0, side, o)
			}()
		}
		close(start)
		wg.Wait()
		completes := 0
		for i, r := range res {
			if r.err != nil {
				t.Fatalf("round %d: PutOutcome %d: %v", round, i, r.err)
			}
			if !r.complete {
				continue
			}
			completes++
			want := cutover.OutcomePair{EventID: id, Epoch: 0, Workflow: wf, Legacy: legacy, Async: async, CreatedAt: r.pair.CreatedAt}
			if diff := cmp.Diff(want, r.pair); diff != "" {
				t.Fatalf("round %d: completed pair (-want +got):\n%s", round, diff)
			}
		}
		if completes != 1 {
			t.Fatalf("round %d: %d writers saw the pair complete, want exactly 1", round, completes)
		}
		stored, err := st.OutcomePair(ctx, id, 0)
		if err != nil {
			t.Fatalf("round %d: OutcomePair: %v", round, err)
		}
		if diff := cmp.Diff(legacy, stored.Legacy); diff != "" {
			t.Fatalf("round %d: stored legacy (-want +got):\n%s", round, diff)
		}
		if diff := cmp.Diff(async, stored.Async); diff != "" {
			t.Fatalf("round %d: stored async (-want +got):\n%s", round, diff)
		}
	}
}

func outcomesTwice(t *testing.T, st cutover.OutcomeStore) {
	ctx := testContext(t)
	wf, id := uniq("wf"), cutover.NewEventID()
	first := legacyOutcome()
	pair, complete, err := st.PutOutcome(ctx, wf, id, 0, cutover.SideLegacy, first)
	if err != nil || complete {
		t.Fatalf("first PutOutcome: complete %v, %v; want false, nil", complete, err)
	}
	if pair.Async != nil || pair.EventID != id || pair.Workflow != wf {
		t.Errorf("pair after one side: %+v", pair)
	}
	second := legacyOutcome()
	second.Status = 500
	if _, _, err := st.PutOutcome(ctx, wf, id, 0, cutover.SideLegacy, second); !errors.Is(err, cutover.ErrAlreadyRecorded) {
		t.Errorf("second legacy PutOutcome: %v, want ErrAlreadyRecorded", err)
	}
	stored, err := st.OutcomePair(ctx, id, 0)
	if err != nil {
		t.Fatalf("OutcomePair: %v", err)
	}
	if diff := cmp.Diff(first, stored.Legacy); diff != "" {
		t.Errorf("a refused put changed the stored side (-first +stored):\n%s", diff)
	}
	// The other side still completes the pair, once.
	if _, complete, err := st.PutOutcome(ctx, wf, id, 0, cutover.SideAsync, asyncOutcome()); err != nil || !complete {
		t.Fatalf("async PutOutcome: complete %v, %v; want true, nil", complete, err)
	}
	if _, complete, err := st.PutOutcome(ctx, wf, id, 0, cutover.SideAsync, asyncOutcome()); !errors.Is(err, cutover.ErrAlreadyRecorded) || complete {
		t.Errorf("second async PutOutcome: complete %v, %v; want false, ErrAlreadyRecorded", complete, err)
	}
}

func outcomesEpochs(t *testing.T, st cutover.OutcomeStore) {
	ctx := testContext(t)
	wf, id := uniq("wf"), cutover.NewEventID()
	if _, complete, err := st.PutOutcome(ctx, wf, id, 0, cutover.SideLegacy, legacyOutcome()); err != nil || complete {
		t.Fatalf("legacy at epoch 0: complete %v, %v", complete, err)
	}
	if _, complete, err := st.PutOutcome(ctx, wf, id, 1, cutover.SideAsync, asyncOutcome()); err != nil || complete {
		t.Fatalf("async at epoch 1: complete %v, %v; want an incomplete pair of its own", complete, err)
	}
	p0, err := st.OutcomePair(ctx, id, 0)
	if err != nil {
		t.Fatalf("OutcomePair(0): %v", err)
	}
	if p0.Legacy == nil || p0.Async != nil || p0.Epoch != 0 {
		t.Errorf("epoch 0 pair: %+v, want legacy only", p0)
	}
	pair, complete, err := st.PutOutcome(ctx, wf, id, 1, cutover.SideLegacy, legacyOutcome())
	if err != nil || !complete {
		t.Fatalf("legacy at epoch 1: complete %v, %v; want true", complete, err)
	}
	if pair.Epoch != 1 || pair.Legacy == nil || pair.Async == nil {
		t.Errorf("epoch 1 pair: %+v", pair)
	}
}

// outcomesUnpaired: one-sided pairs older than `before` are listed oldest
// first; complete pairs and younger ones are not.
func outcomesUnpaired(t *testing.T, st cutover.OutcomeStore) {
	ctx := testContext(t)
	wf := uniq("wf")
	put := func(id string, side cutover.Side) {
		t.Helper()
		o := legacyOutcome()
		if side == cutover.SideAsync {
			o = asyncOutcome()
		}
		if _, _, err := st.PutOutcome(ctx, wf, id, 0, side, o); err != nil {
			t.Fatalf("PutOutcome: %v", err)
		}
	}
	old1, old2, done, young := cutover.NewEventID(), cutover.NewEventID(), cutover.NewEventID(), cutover.NewEventID()
	put(old1, cutover.SideLegacy)
	time.Sleep(20 * time.Millisecond)
	put(old2, cutover.SideAsync)
	put(done, cutover.SideLegacy)
	put(done, cutover.SideAsync)
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	put(young, cutover.SideLegacy)

	ours := func(before time.Time) []string {
		t.Helper()
		ps, err := st.Unpaired(ctx, before, 100000)
		if err != nil {
			t.Fatalf("Unpaired: %v", err)
		}
		var ids []string
		for i, p := range ps {
			if i > 0 && p.CreatedAt.Before(ps[i-1].CreatedAt) {
				t.Errorf("Unpaired is not oldest first: %v after %v", p.CreatedAt, ps[i-1].CreatedAt)
			}
			if p.Workflow != wf {
				continue
			}
			if (p.Legacy == nil) == (p.Async == nil) {
				t.Errorf("Unpaired listed %s with both or no sides", p.EventID)
			}
			ids = append(ids, p.EventID)
		}
		return ids
	}
	if diff := cmp.Diff([]string{old1, old2}, ours(mid)); diff != "" {
		t.Errorf("Unpaired(before mid) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{old1, old2, young}, ours(time.Now().Add(time.Second))); diff != "" {
		t.Errorf("Unpaired(before now) (-want +got):\n%s", diff)
	}
	ps, err := st.Unpaired(ctx, time.Now().Add(time.Second), 1)
	if err != nil {
		t.Fatalf("Unpaired: %v", err)
	}
	if len(ps) != 1 {
		t.Errorf("Unpaired with limit 1 returned %d pairs", len(ps))
	}
	p, err := st.OutcomePair(ctx, old2, 0)
	if err != nil {
		t.Fatalf("OutcomePair: %v", err)
	}
	if p.Legacy != nil || p.Async == nil || p.CreatedAt.IsZero() {
		t.Errorf("one-sided pair %s: %+v", old2, p)
	}
}

func outcomesNotFound(t *testing.T, st cutover.OutcomeStore) {
	if _, err := st.OutcomePair(testContext(t), cutover.NewEventID(), 0); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("OutcomePair of an unknown event: %v, want ErrNotFound", err)
	}
}
