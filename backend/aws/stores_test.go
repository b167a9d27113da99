package aws

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// TestTransitionLogRollsOver appends more than one 400 KB item holds and
// checks that the log reads back whole and stays version-checked.
func TestTransitionLogRollsOver(t *testing.T) {
	b := openTest(t, testConfig(t), testOptions())
	tb := b.Table()
	ctx := testContext(t)
	id := cutover.NewEventID()
	at := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	var want []cutover.Transition
	for i := 0; i < 9; i++ {
		tr := cutover.Transition{Kind: cutover.TransitionRetryScheduled, At: at.Add(time.Duration(i) * time.Second), Attempt: i + 1,
			Detail: fmt.Sprintf("%d:%s", i, strings.Repeat("x", 100<<10))}
		v, err := tb.Append(ctx, id, i, tr)
		if err != nil || v != i+1 {
			t.Fatalf("append %d: version %d, %v", i+1, v, err)
		}
		tr.Seq = i + 1
		want = append(want, tr)
	}
	if _, err := tb.Append(ctx, id, 3, cutover.Transition{Kind: cutover.TransitionSucceeded}); !errors.Is(err, cutover.ErrVersionConflict) {
		t.Errorf("stale append after a rollover: %v, want ErrVersionConflict", err)
	}
	got, err := tb.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	it, err := tb.get(ctx, eventPK(id), skLog)
	if err != nil {
		t.Fatal(err)
	}
	if it.n(attrVersion) != 9 || it.n(attrBase) == 0 {
		t.Errorf("main item at version %d from base %d: want 9, and a base past 0 (entries moved to chunks)", it.n(attrVersion), it.n(attrBase))
	}
}

// TestLargeValuesGoToS3 stores outcomes and a comparison larger than the
// inline limit and reads them back.
func TestLargeValuesGoToS3(t *testing.T) {
	opt := testOptions()
	opt.ItemInlineLimit = 1 << 10
	b := openTest(t, testConfig(t), opt)
	tb := b.Table()
	ctx := testContext(t)
	big := &cutover.Outcome{Status: 200, Body: cutover.Body(`{"blob":"` + strings.Repeat("y", 100<<10) + `"}`), At: time.Now().UTC()}
	small := &cutover.Outcome{Status: 200, Body: cutover.Body(`{}`), At: time.Now().UTC()}
	k := cutover.IdempotencyKey{Workflow: "large", Step: "respond", Key: randHex(4)}
	c, err := tb.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: "e", Lease: time.Minute})
	if err != nil || c.State != cutover.ClaimAcquired {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	if err := tb.Complete(ctx, k, 1, big); err != nil {
		t.Fatalf("complete with a 100 KiB outcome: %v", err)
	}
	rec, err := tb.IdempotencyRecord(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(big, rec.Outcome); diff != "" {
		t.Errorf("stored outcome (-want +got):\n%s", diff)
	}
	it, err := tb.get(ctx, eventPK("e"), skLog)
	if err != nil {
		t.Fatal(err)
	}
	if sc := scopeOf(k); it.has(sc.out) || !strings.HasPrefix(it.s(sc.ref), "sha256:") {
		t.Errorf("the event item holds %v inline and ref %q; want the outcome in S3", it.has(sc.out), it.s(sc.ref))
	}

	id := cutover.NewEventID()
	if _, _, err := tb.PutOutcome(ctx, "large", id, 0, cutover.SideLegacy, small); err != nil {
		t.Fatal(err)
	}
	pair, complete, err := tb.PutOutcome(ctx, "large", id, 0, cutover.SideAsync, big)
	if err != nil || !complete {
		t.Fatalf("async side: complete %v, %v", complete, err)
	}
	if diff := cmp.Diff(big, pair.Async); diff != "" {
		t.Errorf("completed pair's async side (-want +got):\n%s", diff)
	}
	stored, err := tb.OutcomePair(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pair, stored); diff != "" {
		t.Errorf("stored pair (-want +got):\n%s", diff)
	}

	cmpr := &cutover.Comparison{EventID: id, Workflow: "large", Verdict: cutover.VerdictMismatch, ComparedAt: time.Now().UTC(),
		Diffs: []cutover.PathDiff{{Path: "$.blob", Legacy: []byte(`"a"`), Async: []byte(`"` + strings.Repeat("z", 10<<10) + `"`)}}}
	if err := tb.SaveComparison(ctx, cmpr); err != nil {
		t.Fatal(err)
	}
	gotCmp, err := tb.Comparison(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cmpr, gotCmp); diff != "" {
		t.Errorf("stored comparison (-want +got):\n%s", diff)
	}
}

// TestArchiveSharesObjects: concurrent Archive calls share S3 objects, and
// Close writes what is buffered.
func TestArchiveSharesObjects(t *testing.T) {
	opt := testOptions()
	opt.ArchiveMaxDelay = 50 * time.Millisecond
	b := openTest(t, testConfig(t), opt)
	ctx := testContext(t)
	before := b.Requests()
	const calls = 40
	evs := make([]*cutover.Event, calls)
	var wg sync.WaitGroup
	for i := range evs {
		evs[i] = &cutover.Event{ID: cutover.NewEventID(), Workflow: "arch", Step: "respond", Mode: cutover.EventShadow,
			IdempotencyKey: fmt.Sprint(i), CorrelationID: "c", ReceivedAt: time.Now().UTC(), Request: cutover.Request{Method: "POST", Path: "/x"}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Archive().Archive(ctx, evs[i]); err != nil {
				t.Errorf("archive %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	puts := b.Requests().Sub(before).Requests[Op{"s3", "PutObject"}]
	if puts < 1 || puts > calls/4 {
		t.Errorf("%d archive calls wrote %d objects, want a few shared ones", calls, puts)
	}
	got, err := b.Archive().Events(ctx, cutover.EventQuery{CorrelationID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != calls {
		t.Errorf("%d events archived, %d found", calls, len(got))
	}
	// Close flushes a pending batch before returning.
	opt.ArchiveMaxDelay = time.Hour
	slow := openTest(t, b.cfg, opt)
	late := *evs[0]
	late.ID = cutover.NewEventID()
	errc := make(chan error, 1)
	go func() { errc <- slow.Archive().Archive(ctx, &late) }()
	time.Sleep(50 * time.Millisecond)
	if err := slow.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("archive flushed by Close: %v", err)
	}
	if _, err := b.Archive().Event(ctx, late.ID); err != nil {
		t.Errorf("event flushed by Close: %v", err)
	}
	if err := slow.Archive().Archive(ctx, &late); !errors.Is(err, errClosed) {
		t.Errorf("archive after Close: %v, want errClosed", err)
	}
}

// TestSQSSpecifics: batches are split by SQS's byte limit, bodies and
// attributes SQS cannot carry come back intact, and visibility is rounded
// up to whole seconds.
func TestSQSSpecifics(t *testing.T) {
	b := openTest(t, testConfig(t), testOptions())
	ctx := testContext(t)
	q := b.Queue()
	if err := q.EnsureQueue(ctx, cutover.QueueSpec{Name: "sqs"}); err != nil {
		t.Fatal(err)
	}
	before := b.Requests()
	var msgs []cutover.OutgoingMessage
	want := map[string][]byte{}
	for i := 0; i < 6; i++ {
		body := bytes.Repeat([]byte{byte('a' + i)}, 100<<10)
		if i == 5 {
			body = []byte{0, 0xff, 0x80, 'b', 'i', 'n'}
		}
		m := cutover.OutgoingMessage{ID: fmt.Sprint(i), Body: body, Attributes: map[string]string{"empty": "", "i": fmt.Sprint(i)}}
		msgs = append(msgs, m)
		want[fmt.Sprint(i)] = body
	}
	if err := q.Send(ctx, "sqs", msgs); err != nil {
		t.Fatal(err)
	}
	if sends := b.Requests().Sub(before).Requests[Op{"sqs", "SendMessageBatch"}]; sends < 3 {
		t.Errorf("six messages of up to 100 KiB went in %d batch requests; SQS takes 256 KiB per batch", sends)
	}
	got := map[string]cutover.Message{}
	for len(got) < len(msgs) {
		ms, err := q.Receive(ctx, "sqs", cutover.ReceiveOptions{Max: 10, Visibility: time.Minute, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Fatalf("received %d of %d", len(got), len(msgs))
		}
		for _, m := range ms {
			got[m.Attributes["i"]] = m
		}
	}
	for i, body := range want {
		m := got[i]
		if !bytes.Equal(m.Body, body) || m.Attributes["empty"] != "" || len(m.Attributes) != 2 {
			t.Errorf("message %s: %d bytes, attributes %v", i, len(m.Body), m.Attributes)
		}
	}
	// 200ms is one second: not visible at once, visible after it.
	m := got["5"]
	if err := q.ChangeVisibility(ctx, "sqs", m.Receipt, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	ms, err := q.Receive(ctx, "sqs", cutover.ReceiveOptions{Max: 1, Visibility: time.Minute})
	if err != nil || len(ms) != 0 {
		t.Fatalf("receive right after a 200ms visibility change: %d messages, %v; want none (rounded up to 1s)", len(ms), err)
	}
	ms, err = q.Receive(ctx, "sqs", cutover.ReceiveOptions{Max: 1, Visibility: time.Minute, Wait: 3 * time.Second})
	if err != nil || len(ms) != 1 || !bytes.Equal(ms[0].Body, want["5"]) {
		t.Fatalf("receive after the visibility: %d messages, %v", len(ms), err)
	}
	if since := time.Since(changed); since < 500*time.Millisecond {
		t.Errorf("visible again after %v, want about 1s", since)
	}
	if err := q.ChangeVisibility(ctx, "sqs", "not-a-receipt", time.Second); !errors.Is(err, cutover.ErrStaleReceipt) {
		t.Errorf("ChangeVisibility with a bogus receipt: %v, want ErrStaleReceipt", err)
	}
}

// TestCoalescingSavesRequests: acknowledging and extending messages one
// call at a time from many goroutines, as workers do, costs far fewer
// requests than calls.
func TestCoalescingSavesRequests(t *testing.T) {
	b := openTest(t, testConfig(t), testOptions())
	ctx := testContext(t)
	q := b.Queue()
	if err := q.EnsureQueue(ctx, cutover.QueueSpec{Name: "co"}); err != nil {
		t.Fatal(err)
	}
	const n = 100
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.Send(ctx, "co", []cutover.OutgoingMessage{{ID: fmt.Sprint(i), Body: []byte("x")}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var receipts []string
	for len(receipts) < n {
		ms, err := q.Receive(ctx, "co", cutover.ReceiveOptions{Max: 10, Visibility: time.Minute, Wait: time.Second})
		if err != nil || len(ms) == 0 {
			t.Fatalf("received %d of %d: %v", len(receipts), n, err)
		}
		for _, m := range ms {
			receipts = append(receipts, m.Receipt)
		}
	}
	before := b.Requests()
	for _, op := range []func(r string) error{
		func(r string) error { return q.ChangeVisibility(ctx, "co", r, time.Minute) },
		func(r string) error { return q.Delete(ctx, "co", []string{r}) },
	} {
		for _, r := range receipts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := op(r); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	d := b.Requests().Sub(before).Requests
	vis, del := d[Op{"sqs", "ChangeMessageVisibilityBatch"}], d[Op{"sqs", "DeleteMessageBatch"}]
	t.Logf("%d visibility changes in %d requests, %d deletes in %d requests", n, vis, n, del)
	if vis > n/4 || del > n/4 {
		t.Errorf("%d visibility changes took %d requests and %d deletes %d: want batches", n, vis, n, del)
	}
	st, err := q.QueueStats(ctx, "co")
	if err != nil || st.Visible+st.InFlight != 0 {
		t.Errorf("after deleting everything: %+v, %v", st, err)
	}
}
