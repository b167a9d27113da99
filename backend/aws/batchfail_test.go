package aws

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// entryFaults fails single entries of SQS batch requests the way SQS
// reports them in Failed: it takes them out of the request it forwards and
// adds them to the answer. Entries whose body (or receipt) starts with
// "flaky" fail once with SenderFault false; "refused" ones always fail with
// SenderFault true. (The local server does not check signatures, so the
// edited request still goes through.)
type entryFaults struct {
	next http.RoundTripper

	mu     sync.Mutex
	failed map[string]bool // flaky entries failed once already
	counts map[string]int  // requests by operation
}

type sqsEntry map[string]any

func (f *entryFaults) RoundTrip(r *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	f.mu.Lock()
	f.counts[op]++
	f.mu.Unlock()
	if op != "SendMessageBatch" && op != "DeleteMessageBatch" {
		return f.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	var keep []any
	var fails []sqsEntry
	for _, raw := range in["Entries"].([]any) {
		e := raw.(map[string]any)
		key, _ := e["MessageBody"].(string)
		if op == "DeleteMessageBatch" {
			key = "flaky-delete-" + e["ReceiptHandle"].(string)
		}
		f.mu.Lock()
		switch {
		case strings.HasPrefix(key, "refused"):
			fails = append(fails, sqsEntry{"Id": e["Id"], "Code": "InvalidParameterValue", "Message": "refused by the test", "SenderFault": true})
		case strings.HasPrefix(key, "flaky") && !f.failed[key]:
			f.failed[key] = true
			fails = append(fails, sqsEntry{"Id": e["Id"], "Code": "InternalError", "Message": "injected", "SenderFault": false})
		default:
			keep = append(keep, e)
		}
		f.mu.Unlock()
	}
	if len(keep) == 0 {
		out, _ := json.Marshal(map[string]any{"Successful": []any{}, "Failed": fails})
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
			Body: io.NopCloser(bytes.NewReader(out)), ContentLength: int64(len(out)), Request: r}, nil
	}
	in["Entries"] = keep
	body, _ = json.Marshal(in)
	r = r.Clone(r.Context())
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp, err := f.next.RoundTrip(r)
	if err != nil || resp.StatusCode != 200 {
		return resp, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	failed, _ := out["Failed"].([]any)
	for _, e := range fails {
		failed = append(failed, e)
	}
	out["Failed"] = failed
	data, _ = json.Marshal(out)
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// TestBatchEntryFailures: entries SQS fails on its side are retried in a
// new batch request; entries refused as the sender's fault are reported
// by id in a *cutover.BatchError; the rest go through once.
func TestBatchEntryFailures(t *testing.T) {
	ef := &entryFaults{next: loopbackOnly{http.DefaultTransport}, failed: map[string]bool{}, counts: map[string]int{}}
	opt := testOptions()
	opt.HTTPClient = &http.Client{Transport: ef}
	b := openTest(t, testConfig(t), opt)
	ctx := testContext(t)
	q := b.Queue()
	if err := q.EnsureQueue(ctx, cutover.QueueSpec{Name: "entries"}); err != nil {
		t.Fatal(err)
	}
	bodies := []string{"plain-0", "flaky-1", "plain-2", "refused-3", "flaky-4", "plain-5", "flaky-6", "plain-7"}
	var msgs []cutover.OutgoingMessage
	for _, body := range bodies {
		msgs = append(msgs, cutover.OutgoingMessage{ID: body, Body: []byte(body)})
	}
	err := q.Send(ctx, "entries", msgs)
	var be *cutover.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Send: %v, want a *cutover.BatchError", err)
	}
	var failedIDs []string
	for id := range be.Failed {
		failedIDs = append(failedIDs, id)
	}
	if diff := cmp.Diff([]string{"refused-3"}, failedIDs); diff != "" {
		t.Errorf("failed entries (-want +got):\n%s", diff)
	}
	if ef.counts["SendMessageBatch"] != 2 {
		t.Errorf("%d SendMessageBatch requests, want 2 (the batch, then its three flaky entries)", ef.counts["SendMessageBatch"])
	}
	got := map[string]int{}
	var receipts []string
	for len(receipts) < len(bodies)-1 {
		ms, err := q.Receive(ctx, "entries", cutover.ReceiveOptions{Max: 10, Visibility: time.Minute, Wait: time.Second})
		if err != nil || len(ms) == 0 {
			t.Fatalf("received %d of %d: %v", len(receipts), len(bodies)-1, err)
		}
		for _, m := range ms {
			got[string(m.Body)]++
			receipts = append(receipts, "flaky-"+m.Receipt) // every delete fails once
		}
	}
	want := map[string]int{}
	for _, body := range bodies {
		if body != "refused-3" {
			want[body] = 1
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	for i := range receipts {
		receipts[i] = strings.TrimPrefix(receipts[i], "flaky-")
	}
	if err := q.Delete(ctx, "entries", receipts); err != nil {
		t.Fatalf("Delete with every entry failing once: %v", err)
	}
	st, err := q.QueueStats(ctx, "entries")
	if err != nil || st != (cutover.QueueStats{}) {
		t.Errorf("after deleting everything: %+v, %v", st, err)
	}
}
