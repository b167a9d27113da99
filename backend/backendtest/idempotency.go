package backendtest

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

func testIdempotency(t *testing.T, s cutover.Stores) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, cutover.IdempotencyStore)
	}{
		{"FirstClaimAcquiresThenBusy", idemFirstClaim},
		{"ExpiredLeaseIsTakenOverAndFenced", idemTakeover},
		{"CompleteThenClaimReturnsOutcome", idemComplete},
		{"OtherPayloadIsConflict", idemConflict},
		{"ReleaseThenClaim", idemRelease},
		{"ExtendLease", idemExtend},
		{"ConcurrentClaimsOneWins", idemConcurrent},
		{"KeysAreScopedByWorkflowAndStep", idemScope},
		{"RecordNotFound", idemNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s.Idempotency)
		})
	}
}

func newKey() cutover.IdempotencyKey {
	return cutover.IdempotencyKey{Workflow: uniq("wf"), Step: cutover.RespondStep, Key: uniq("key")}
}

func claim(t *testing.T, st cutover.IdempotencyStore, k cutover.IdempotencyKey, hash string, lease time.Duration) (cutover.Claim, string) {
	t.Helper()
	ev := cutover.NewEventID()
	c, err := st.Claim(testContext(t), cutover.ClaimRequest{Key: k, PayloadHash: hash, EventID: ev, Lease: lease})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return c, ev
}

func wantState(t *testing.T, what string, c cutover.Claim, want cutover.ClaimState) {
	t.Helper()
	if c.State != want {
		t.Fatalf("%s: state %d, want %d (claim %+v)", what, c.State, want, c)
	}
}

func sampleOutcome() *cutover.Outcome {
	return &cutover.Outcome{
		Status:  201,
		Header:  http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}},
		Body:    cutover.Body(`{"order_id":"o-1","total":12.5}`),
		Latency: cutover.Duration(12345678 * time.Nanosecond),
		At:      fixedTime(),
		Effects: []cutover.Effect{{Kind: "email", Detail: "to customer"}},
	}
}

func idemFirstClaim(t *testing.T, st cutover.IdempotencyStore) {
	ctx := testContext(t)
	k := newKey()
	start := time.Now()
	c1, ev1 := claim(t, st, k, "h1", 30*time.Second)
	wantState(t, "first claim", c1, cutover.ClaimAcquired)
	if c1.Epoch != 1 || c1.EventID != ev1 {
		t.Errorf("first claim: epoch %d event %s, want 1 and %s", c1.Epoch, c1.EventID, ev1)
	}
	if c1.LeaseUntil.Before(start.Add(29 * time.Second)) {
		t.Errorf("first claim: LeaseUntil %v, want about 30s from now", c1.LeaseUntil)
	}
	c2, _ := claim(t, st, k, "h1", 30*time.Second)
	wantState(t, "second claim while leased", c2, cutover.ClaimBusy)
	if c2.EventID != ev1 {
		t.Errorf("busy claim names %s, want the holder %s", c2.EventID, ev1)
	}
	if d := c2.LeaseUntil.Sub(c1.LeaseUntil); d < -time.Second || d > time.Second {
		t.Errorf("busy claim: LeaseUntil %v, want the holder's %v", c2.LeaseUntil, c1.LeaseUntil)
	}
	rec, err := st.IdempotencyRecord(ctx, k)
	if err != nil {
		t.Fatalf("IdempotencyRecord: %v", err)
	}
	if rec.Key != k || rec.Completed || rec.Epoch != 1 || rec.PayloadHash != "h1" || rec.EventID != ev1 || rec.Outcome != nil {
		t.Errorf("record of a claimed key: %+v", rec)
	}
}

// idemTakeover: a claim after the lease expired takes the key with epoch 2
// and fences the epoch-1 holder.
func idemTakeover(t *testing.T, st cutover.IdempotencyStore) {
	ctx := testContext(t)
	k := newKey()
	c1, _ := claim(t, st, k, "h", 200*time.Millisecond)
	wantState(t, "first claim", c1, cutover.ClaimAcquired)
	time.Sleep(400 * time.Millisecond)
	c2, ev2 := claim(t, st, k, "h", 30*time.Second)
	wantState(t, "claim after the lease expired", c2, cutover.ClaimAcquired)
	if c2.Epoch != 2 || c2.EventID != ev2 {
		t.Fatalf("takeover: epoch %d event %s, want 2 and %s", c2.Epoch, c2.EventID, ev2)
	}
	if err := st.ExtendLease(ctx, k, 1, time.Minute); !errors.Is(err, cutover.ErrFenced) {
		t.Errorf("ExtendLease by the fenced epoch 1: %v, want ErrFenced", err)
	}
	if err := st.Complete(ctx, k, 1, sampleOutcome()); !errors.Is(err, cutover.ErrFenced) {
		t.Errorf("Complete by the fenced epoch 1: %v, want ErrFenced", err)
	}
	if err := st.Release(ctx, k, 1); !errors.Is(err, cutover.ErrFenced) {
		t.Errorf("Release by the fenced epoch 1: %v, want ErrFenced", err)
	}
	if err := st.Complete(ctx, k, 2, sampleOutcome()); err != nil {
		t.Fatalf("Complete by epoch 2: %v", err)
	}
	c3, _ := claim(t, st, k, "h", time.Second)
	wantState(t, "claim after completion", c3, cutover.ClaimCompleted)
	if c3.EventID != ev2 {
		t.Errorf("completed claim names %s, want the completer %s", c3.EventID, ev2)
	}
}

func idemComplete(t *testing.T, st cutover.IdempotencyStore) {
	ctx := testContext(t)
	k := newKey()
	c1, ev1 := claim(t, st, k, "h", 30*time.Second)
	wantState(t, "first claim", c1, cutover.ClaimAcquired)
	want := sampleOutcome()
	if err := st.Complete(ctx, k, c1.Epoch, want); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	c2, _ := claim(t, st, k, "h", 30*time.Second)
	wantState(t, "claim after completion", c2, cutover.ClaimCompleted)
	if c2.EventID != ev1 {
		t.Errorf("completed claim names %s, want the completer %s", c2.EventID, ev1)
	}
	if diff := cmp.Diff(want, c2.Outcome); diff != "" {
		t.Errorf("stored outcome (-want +got):\n%s", diff)
	}
	rec, err := st.IdempotencyRecord(ctx, k)
	if err != nil {
		t.Fatalf("IdempotencyRecord: %v", err)
	}
	if !rec.Completed || rec.Epoch != 1 || rec.EventID != ev1 || rec.PayloadHash != "h" {
		t.Errorf("record of a completed key: %+v", rec)
	}
	if diff := cmp.Diff(want, rec.Outcome); diff != "" {
		t.Errorf("record outcome (-want +got):\n%s", diff)
	}
}

func idemConflict(t *testing.T, st cutover.IdempotencyStore) {
	ctx := testContext(t)
	k := newKey()
	c1, ev1 := claim(t, st, k, "payload-1", 30*time.Second)
	wantState(t, "first claim", c1, cutover.ClaimAcquired)
	c2, _ := claim(t, st, k, "payload-2", 30*time.Second)
	wantState(t, "claim with another payload while in progress", c2, cutover.ClaimConflict)
	if c2.EventID != ev1 {
		t.Errorf("conflict names %s, want %s", c2.EventID, ev1)
	}
	if err := st.Complete(ctx, k, c1.Epoch, sampleOutcome()); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	c3, _ := claim(t, st, k, "payload-2", 30*time.Second)
	wantState(t, "claim with another payload after completion", c3, cutover.ClaimConflict)
	c4, _ := claim(t, st, k, "payload-1", 30*time.Second)
	wantState(t, "claim with the same payload after completion", c4, cutover.ClaimCompleted)
}

func idemRelease(t *testing.T, st cutover.IdempotencyStore) {
	ctx := testContext(t)
	k := newKey()
	c1, _ := claim(t, st, k, "h", time.Hour)
	wantState(t, "first claim", c1, cutover.ClaimAcquired)
	if err := st.Release(ctx, k, c1.Epoch); err != nil {
		t.Fatalf("Release: %v", err)
	}
	c2, ev2 := claim(t, st, k, "h", time.Hour)
	wantState(t, "claim after release", c2, cutover.ClaimAcquired)
	if c2.Epoch != c1.Epoch+1 || c2.EventID != ev2 {
		t.Errorf("claim after release: epoch %d event %s, want %d and %s", c2.Epoch, c2.EventID, c1.Epoch+1, ev2)
	}
	if err := st.Release(ctx, k, c1.Epoch); !errors.Is(err, cutover.ErrFenced) {
		t.Errorf("Release by the old epoch: %v, want ErrFenced", err)
	}
}

func idemExtend(t *testing.T, st cutover.IdempotencyStore) {
	ctx := testContext(t)
	k := newKey()
	c1, _ := claim(t, st, k, "h", 300*time.Millisecond)
	wantState(t, "first claim", c1, cutover.ClaimAcquired)
	if err := st.ExtendLease(ctx, k, c1.Epoch, 30*time.Second); err != nil {
		t.Fatalf("ExtendLease: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	c2, _ := claim(t, st, k, "h", time.Second)
	wantState(t, "claim after the original lease ended but within the extension", c2, cutover.ClaimBusy)
	if c2.LeaseUntil.Before(time.Now().Add(25 * time.Second)) {
		t.Errorf("busy claim: LeaseUntil %v, want the extended lease about 30s out", c2.LeaseUntil)
	}
	if err := st.Complete(ctx, k, c1.Epoch, sampleOutcome()); err != nil {
		t.Errorf("Complete by the holder after extending: %v", err)
	}
}

func idemConcurrent(t *testing.T, st cutover.IdempotencyStore) {
	ctx := testContext(t)
	k := newKey()
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	claims := make([]cutover.Claim, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			claims[i], errs[i] = st.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: cutover.NewEventID(), Lease: 30 * time.Second})
		}()
	}
	close(start)
	wg.Wait()
	count := map[cutover.ClaimState]int{}
	for i := range claims {
		if errs[i] != nil {
			t.Fatalf("claim %d: %v", i, errs[i])
		}
		count[claims[i].State]++
	}
	want := map[cutover.ClaimState]int{cutover.ClaimAcquired: 1, cutover.ClaimBusy: n - 1}
	if diff := cmp.Diff(want, count); diff != "" {
		t.Errorf("states of %d concurrent claims (-want +got):\n%s", n, diff)
	}
}

func idemScope(t *testing.T, st cutover.IdempotencyStore) {
	k := newKey()
	others := []cutover.IdempotencyKey{
		{Workflow: k.Workflow, Step: "notify", Key: k.Key},
		{Workflow: uniq("wf"), Step: k.Step, Key: k.Key},
	}
	c, _ := claim(t, st, k, "h", time.Minute)
	wantState(t, "claim", c, cutover.ClaimAcquired)
	for _, o := range others {
		c, _ := claim(t, st, o, "other", time.Minute)
		wantState(t, "claim of "+o.Workflow+"/"+o.Step, c, cutover.ClaimAcquired)
		if c.Epoch != 1 {
			t.Errorf("claim of %+v: epoch %d, want 1", o, c.Epoch)
		}
	}
}

func idemNotFound(t *testing.T, st cutover.IdempotencyStore) {
	_, err := st.IdempotencyRecord(testContext(t), newKey())
	if !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("IdempotencyRecord of an unknown key: %v, want ErrNotFound", err)
	}
}
