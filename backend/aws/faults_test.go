package aws

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// faultKind is how an injected failure looks.
type faultKind int

const (
	faultThrottle    faultKind = iota // refused before reaching the server: throttling
	faultUnavailable                  // refused before reaching the server: HTTP 503
	faultLostAnswer                   // the server applied it, the answer is replaced by HTTP 500
	faultKinds
)

// faultTransport fails a fraction of requests the way AWS does under load:
// DynamoDB ProvisionedThroughputExceededException, SQS RequestThrottled, S3
// SlowDown, HTTP 503, and HTTP 500 after the request took effect (so that
// retried conditional writes meet their own earlier write). The draws come
// from a seeded generator.
type faultTransport struct {
	next http.RoundTripper
	rate float64

	mu       sync.Mutex
	rnd      *rand.Rand
	enabled  bool
	injected [faultKinds]atomic.Int64
	requests atomic.Int64
}

func newFaultTransport(rate float64, seed uint64) *faultTransport {
	return &faultTransport{next: loopbackOnly{http.DefaultTransport}, rate: rate, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), enabled: true}
}

func (f *faultTransport) setEnabled(on bool) {
	f.mu.Lock()
	f.enabled = on
	f.mu.Unlock()
}

func (f *faultTransport) draw() (faultKind, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.enabled || f.rnd.Float64() >= f.rate {
		return 0, false
	}
	return faultKind(f.rnd.IntN(int(faultKinds))), true
}

func (f *faultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.requests.Add(1)
	kind, fail := f.draw()
	if !fail {
		return f.next.RoundTrip(r)
	}
	f.injected[kind].Add(1)
	service := "s3"
	switch target := r.Header.Get("X-Amz-Target"); {
	case strings.HasPrefix(target, "DynamoDB"):
		service = "dynamodb"
	case strings.HasPrefix(target, "AmazonSQS"):
		service = "sqs"
	}
	switch kind {
	case faultThrottle:
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			_ = r.Body.Close()
		}
		switch service {
		case "dynamodb":
			return jsonError(r, 400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"), nil
		case "sqs":
			return jsonError(r, 400, "com.amazonaws.sqs#RequestThrottled"), nil
		}
		return xmlError(r, 503, "SlowDown"), nil
	case faultUnavailable:
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			_ = r.Body.Close()
		}
		if service == "s3" {
			return xmlError(r, 503, "ServiceUnavailable"), nil
		}
		return jsonError(r, 503, "ServiceUnavailable"), nil
	}
	resp, err := f.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if service == "s3" {
		return xmlError(r, 500, "InternalError"), nil
	}
	return jsonError(r, 500, "InternalServerError"), nil
}

func jsonError(r *http.Request, status int, typ string) *http.Response {
	body := fmt.Sprintf(`{"__type":%q,"message":"injected fault"}`, typ)
	h := http.Header{"Content-Type": {"application/x-amz-json-1.0"}}
	if i := strings.LastIndex(typ, "#"); i >= 0 {
		// SQS's JSON protocol names the error in this header too.
		h.Set("X-Amzn-Query-Error", typ[i+1:]+";Sender")
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: r, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

func xmlError(r *http.Request, status int, code string) *http.Response {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected fault</Message></Error>`, code)
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: http.Header{"Content-Type": {"application/xml"}},
		Body: io.NopCloser(bytes.NewReader([]byte(body))), ContentLength: int64(len(body)), Request: r, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

// faultyBackend opens a backend whose requests fail at rate once setup is
// done.
func faultyBackend(t *testing.T, rate float64) (*Backend, *faultTransport) {
	ft := newFaultTransport(rate, 42)
	ft.setEnabled(false)
	opt := testOptions()
	opt.HTTPClient = &http.Client{Transport: ft}
	opt.MaxAttempts = 12
	b := openTest(t, testConfig(t), opt)
	return b, ft
}

func (f *faultTransport) report(t *testing.T) {
	t.Helper()
	total := int64(0)
	for k := range f.injected {
		n := f.injected[k].Load()
		total += n
		if n == 0 {
			t.Errorf("fault kind %d was never injected in %d requests", k, f.requests.Load())
		}
	}
	t.Logf("%d requests, %d faults injected (throttle %d, 503 %d, lost answer %d)", f.requests.Load(), total,
		f.injected[faultThrottle].Load(), f.injected[faultUnavailable].Load(), f.injected[faultLostAnswer].Load())
}

// TestFaultsQueueRoundTrips sends 500 messages one per call from many
// goroutines, receives and deletes them with 20% of requests failing, and
// checks that every message arrived and the queue ends empty. A lost
// answer may deliver a message twice (at least once), never zero times.
func TestFaultsQueueRoundTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection against the local servers")
	}
	b, ft := faultyBackend(t, 0.2)
	ctx := testContext(t)
	q := b.Queue()
	const n = 500
	if err := q.EnsureQueue(ctx, cutover.QueueSpec{Name: "faults"}); err != nil {
		t.Fatal(err)
	}
	ft.setEnabled(true)

	var sendWG sync.WaitGroup
	sendErrs := make(chan error, n)
	for i := 0; i < n; i++ {
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			msg := cutover.OutgoingMessage{ID: fmt.Sprint(i), Body: []byte(fmt.Sprintf("m-%03d", i)), Attributes: map[string]string{"n": fmt.Sprint(i)}}
			for try := 0; ; try++ {
				err := q.Send(ctx, "faults", []cutover.OutgoingMessage{msg})
				if err == nil || try == 5 {
					sendErrs <- err
					return
				}
			}
		}()
	}

	var mu sync.Mutex
	done := map[string]bool{}
	deliveries := 0
	var recvWG sync.WaitGroup
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	for r := 0; r < 8; r++ {
		recvWG.Add(1)
		go func() {
			defer recvWG.Done()
			for rctx.Err() == nil {
				ms, err := q.Receive(rctx, "faults", cutover.ReceiveOptions{Max: 10, Visibility: 2 * time.Second, Wait: time.Second})
				if err != nil {
					continue // failed after the SDK's retries: receive again
				}
				var jobs sync.WaitGroup
				for _, m := range ms {
					jobs.Add(1)
					go func() {
						defer jobs.Done()
						if n, err := strconv.Atoi(m.Attributes["n"]); err != nil || string(m.Body) != fmt.Sprintf("m-%03d", n) {
							t.Errorf("message %q has attributes %v", m.Body, m.Attributes)
						}
						if err := q.Delete(rctx, "faults", []string{m.Receipt}); err != nil {
							return // comes back after its visibility
						}
						mu.Lock()
						done[string(m.Body)] = true
						deliveries++
						mu.Unlock()
					}()
				}
				jobs.Wait()
			}
		}()
	}
	sendWG.Wait()
	close(sendErrs)
	for err := range sendErrs {
		if err != nil {
			t.Errorf("send failed after retries: %v", err)
		}
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		mu.Lock()
		got := len(done)
		mu.Unlock()
		if got == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	recvWG.Wait()
	ft.setEnabled(false)
	var missing []string
	for i := 0; i < n; i++ {
		if body := fmt.Sprintf("m-%03d", i); !done[body] {
			missing = append(missing, body)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d messages never delivered and deleted, e.g. %v", len(missing), n, missing[:min(5, len(missing))])
	}
	// Duplicates from lost send answers are delivered and deleted too.
	eventually(t, 10*time.Second, func() (bool, string) {
		ms, err := q.Receive(ctx, "faults", cutover.ReceiveOptions{Max: 10, Visibility: 30 * time.Second})
		if err != nil {
			return false, err.Error()
		}
		for _, m := range ms {
			if err := q.Delete(ctx, "faults", []string{m.Receipt}); err != nil {
				return false, err.Error()
			}
		}
		st, err := q.QueueStats(ctx, "faults")
		if err != nil {
			return false, err.Error()
		}
		return st.Visible+st.InFlight+st.Delayed == 0, fmt.Sprintf("queue still holds %+v", st)
	})
	t.Logf("%d deliveries deleted for %d messages", deliveries, n)
	ft.report(t)
}

// TestFaultsStateRoundTrips runs 500 events through the state a worker
// writes (transition appends, claim, complete, both outcome sides, the
// comparison) with 20% of requests failing, a third of them after the
// write took effect. Every call must succeed as if nothing failed: a
// retried conditional write recognises its own earlier write.
func TestFaultsStateRoundTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection against the local servers")
	}
	b, ft := faultyBackend(t, 0.2)
	ctx := testContext(t)
	tb := b.Table()
	const n = 500
	wf := "faults-" + randHex(3)
	at := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	ft.setEnabled(true)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var completes atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := cutover.NewEventID()
			k := cutover.IdempotencyKey{Workflow: wf, Step: cutover.RespondStep, Key: fmt.Sprintf("k-%d", i)}
			out := &cutover.Outcome{Status: 200, Body: cutover.Body(fmt.Sprintf(`{"n":%d}`, i)), At: at}
			fail := func(what string, err error) { t.Errorf("event %d: %s: %v", i, what, err) }
			if v, err := tb.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil || v != 1 {
				fail("append received", fmt.Errorf("version %d, %w", v, err))
				return
			}
			c, err := tb.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: id, Lease: time.Minute})
			if err != nil || c.State != cutover.ClaimAcquired || c.Epoch != 1 {
				fail("claim", fmt.Errorf("%+v, %w", c, err))
				return
			}
			if v, err := tb.Append(ctx, id, 1, cutover.Transition{Kind: cutover.TransitionStarted, Epoch: 1}); err != nil || v != 2 {
				fail("append started", fmt.Errorf("version %d, %w", v, err))
				return
			}
			if err := tb.Complete(ctx, k, 1, out); err != nil {
				fail("complete", err)
				return
			}
			if _, complete, err := tb.PutOutcome(ctx, wf, id, 0, cutover.SideLegacy, out); err != nil || complete {
				fail("legacy outcome", fmt.Errorf("complete %v, %w", complete, err))
				return
			}
			pair, complete, err := tb.PutOutcome(ctx, wf, id, 0, cutover.SideAsync, out)
			if err != nil || !complete || pair.Legacy == nil || pair.Async == nil {
				fail("async outcome", fmt.Errorf("complete %v, pair %+v, %w", complete, pair, err))
				return
			}
			completes.Add(1)
			if err := tb.SaveComparison(ctx, &cutover.Comparison{EventID: id, Workflow: wf, Verdict: cutover.VerdictMatch, ComparedAt: at}); err != nil {
				fail("save comparison", err)
			}
		}()
	}
	wg.Wait()
	ft.setEnabled(false)
	if completes.Load() != n {
		t.Fatalf("%d of %d pairs completed", completes.Load(), n)
	}
	aggs, err := tb.Aggregates(ctx, wf, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var matches int64
	for _, a := range aggs {
		matches += a.Verdicts[cutover.VerdictMatch]
	}
	if matches != n {
		t.Errorf("aggregates count %d matches, want %d (each comparison folded once)", matches, n)
	}
	for i := 0; i < n; i++ {
		k := cutover.IdempotencyKey{Workflow: wf, Step: cutover.RespondStep, Key: fmt.Sprintf("k-%d", i)}
		rec, err := tb.IdempotencyRecord(ctx, k)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		want := cutover.Outcome{Status: 200, Body: cutover.Body(fmt.Sprintf(`{"n":%d}`, i)), At: at}
		if !rec.Completed || rec.Epoch != 1 || rec.Outcome == nil {
			t.Fatalf("record %d: %+v", i, rec)
		}
		if diff := cmp.Diff(want, *rec.Outcome); diff != "" {
			t.Fatalf("record %d outcome (-want +got):\n%s", i, diff)
		}
	}
	ft.report(t)
}

// eventually retries check until it reports ok or timeout passes.
func eventually(t *testing.T, timeout time.Duration, check func() (bool, string)) {
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
