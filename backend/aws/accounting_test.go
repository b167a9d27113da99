package aws

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cutover-dev/cutover"
)

// TestRequestAccounting checks that every request is counted by service
// and operation, in the snapshot and in Prometheus alike, and that
// DynamoDB's consumed capacity is collected.
func TestRequestAccounting(t *testing.T) {
	reg := prometheus.NewRegistry()
	opt := testOptions()
	opt.Registerer = reg
	b := openTest(t, testConfig(t), opt)
	ctx := testContext(t)
	before := b.Requests()

	q := b.Queue()
	if err := q.EnsureQueue(ctx, cutover.QueueSpec{Name: "acct"}); err != nil {
		t.Fatal(err)
	}
	msgs := make([]cutover.OutgoingMessage, 25)
	for i := range msgs {
		msgs[i] = cutover.OutgoingMessage{ID: fmt.Sprint(i), Body: []byte("x")}
	}
	if err := q.Send(ctx, "acct", msgs); err != nil { // 10 + 10 + 5
		t.Fatal(err)
	}
	tb := b.Table()
	k := cutover.IdempotencyKey{Workflow: "acct", Step: "respond", Key: "k"}
	if _, err := tb.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: "e", Lease: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.IdempotencyRecord(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Bucket().PutBlob(ctx, []byte("accounted")); err != nil {
		t.Fatal(err)
	}

	got := b.Requests().Sub(before)
	want := map[Op]int64{
		{"sqs", "GetQueueUrl"}:      1, // the queue did not exist yet
		{"sqs", "CreateQueue"}:      1,
		{"sqs", "SendMessageBatch"}: 3,
		{"dynamodb", "PutItem"}:     1,
		{"dynamodb", "GetItem"}:     2, // the record, and its holder's event item
		{"s3", "PutObject"}:         1,
	}
	if diff := cmp.Diff(want, got.Requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if got.SQSBilledRequests != 5 {
		t.Errorf("SQS billed requests %d, want 5 (small payloads bill one each)", got.SQSBilledRequests)
	}
	if got.WriteUnits < 1 || got.ReadUnits <= 0 {
		t.Errorf("capacity: %v write and %v read units, want at least 1 and above 0", got.WriteUnits, got.ReadUnits)
	}
	for op, n := range b.Requests().Requests {
		c := b.acct.requests.WithLabelValues(op.Service, op.Operation)
		if v := testutil.ToFloat64(c); v != float64(n) {
			t.Errorf("cutover_aws_requests_total{service=%q,operation=%q} = %v, snapshot says %d", op.Service, op.Operation, v, n)
		}
	}
	all := b.Requests()
	if v := testutil.ToFloat64(b.acct.capacity.WithLabelValues("write")); v != all.WriteUnits {
		t.Errorf("write capacity counter %v, snapshot %v", v, all.WriteUnits)
	}
	if n, err := testutil.GatherAndCount(reg, "cutover_aws_requests_total"); err != nil || n == 0 {
		t.Errorf("registry holds %d request series, %v", n, err)
	}
}
