package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// initConfig is a config with two workflows, one with an extra step, on
// fresh resources of the local servers.
func initConfig(t *testing.T) *cutover.Config {
	t.Helper()
	needServers(t)
	bc := testConfig(t)
	cfg, err := cutover.Parse([]byte(fmt.Sprintf(`
legacy: http://127.0.0.1:1
backend:
  kind: aws
  region: us-east-1
  table: %s
  bucket: %s
  queue_prefix: %s
  sqs_endpoint: %s
  dynamodb_endpoint: %s
  s3_endpoint: %s
workflows:
  - name: orders
    route: POST /orders
    target: http://127.0.0.1:2/orders
    max_attempts: 3
    steps:
      - name: notify
        target: http://127.0.0.1:2/notify
  - name: refunds
    route: POST /refunds
    target: http://127.0.0.1:2/refunds
`, bc.Table, bc.Bucket, bc.QueuePrefix, bc.SQSEndpoint, bc.DynamoDBEndpoint, bc.S3Endpoint)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// wantInit is Init's output for initConfig; state is "would create",
// "created" or "exists".
func wantInit(cfg *cutover.Config, state string) []string {
	p, b := cfg.Backend.QueuePrefix, cfg.Backend
	withRedrive := state
	if state == "exists" {
		withRedrive = "exists, redrive set"
	}
	q := func(name string) string { return p + name }
	return []string{
		"queue  " + q("orders--respond--dlq") + ": " + state,
		"queue  " + q("orders--respond") + ": " + withRedrive + " (dead-letter " + q("orders--respond--dlq") + " after 13 receives)",
		"queue  " + q("orders--notify--dlq") + ": " + state,
		"queue  " + q("orders--notify") + ": " + withRedrive + " (dead-letter " + q("orders--notify--dlq") + " after 15 receives)",
		"queue  " + q("refunds--respond--dlq") + ": " + state,
		"queue  " + q("refunds--respond") + ": " + withRedrive + " (dead-letter " + q("refunds--respond--dlq") + " after 15 receives)",
		"table  " + b.Table + ": " + state + ` (keys pk/sk, index gsi1, TTL on "ttl", on-demand)`,
		"bucket " + b.Bucket + ": " + state,
	}
}

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

func TestInit(t *testing.T) {
	cfg := initConfig(t)
	ctx := testContext(t)
	b, err := Open(ctx, cfg.Backend, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	var out bytes.Buffer
	if err := b.Init(ctx, cfg, true, &out); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if diff := cmp.Diff(wantInit(cfg, "would create"), lines(out.String())); diff != "" {
		t.Errorf("dry run output (-want +got):\n%s", diff)
	}
	assertNothingCreated(ctx, t, b, cfg)

	for i, state := range []string{"created", "exists"} {
		out.Reset()
		if err := b.Init(ctx, cfg, false, &out); err != nil {
			t.Fatalf("init #%d: %v", i+1, err)
		}
		if diff := cmp.Diff(wantInit(cfg, state), lines(out.String())); diff != "" {
			t.Errorf("init #%d output (-want +got):\n%s", i+1, diff)
		}
	}

	// The redrive policy points each queue at its DLQ.
	url, err := b.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: ptr(cfg.Backend.QueuePrefix + "orders--respond")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := b.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Target string `json:"deadLetterTargetArn"`
		Max    any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &policy); err != nil {
		t.Fatalf("redrive policy %q: %v", attrs.Attributes["RedrivePolicy"], err)
	}
	if !strings.HasSuffix(policy.Target, ":"+cfg.Backend.QueuePrefix+"orders--respond--dlq") || fmt.Sprint(policy.Max) != "13" {
		t.Errorf("redrive policy %+v, want the DLQ after 13 receives", policy)
	}
	ttl, err := b.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: ptr(cfg.Backend.Table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || deref(d.AttributeName) != "ttl" ||
		(d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled && d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabling) {
		t.Errorf("TTL: %+v, want enabled on ttl", ttl.TimeToLiveDescription)
	}
	// What Init created is what the stores use.
	st := b.Stores()
	if err := st.Queue.Send(ctx, "orders--respond", []cutover.OutgoingMessage{{ID: "x", Body: []byte("x")}}); err != nil {
		t.Errorf("send after init: %v", err)
	}
	if _, err := st.Blobs.PutBlob(ctx, []byte("x")); err != nil {
		t.Errorf("put blob after init: %v", err)
	}
}

func assertNothingCreated(ctx context.Context, t *testing.T, b *Backend, cfg *cutover.Config) {
	t.Helper()
	for _, name := range []string{"orders--respond", "orders--respond--dlq", "refunds--respond"} {
		if ok, err := b.queueExists(ctx, name); err != nil || ok {
			t.Errorf("after a dry run, queue %s exists: %v, %v", name, ok, err)
		}
	}
	var nf *ddbtypes.ResourceNotFoundException
	if _, err := b.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: ptr(cfg.Backend.Table)}); !errors.As(err, &nf) {
		t.Errorf("after a dry run, DescribeTable: %v, want ResourceNotFoundException", err)
	}
	if _, err := b.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: ptr(cfg.Backend.Bucket)}); err == nil {
		t.Errorf("after a dry run, the bucket exists")
	}
}

// TestInitDefaultChain runs the package-level Init, whose credentials come
// from the SDK's default chain (here the environment), as a dry run.
func TestInitDefaultChain(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_PROFILE", "")
	cfg := initConfig(t)
	var out bytes.Buffer
	if err := Init(testContext(t), cfg, true, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantInit(cfg, "would create"), lines(out.String())); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
