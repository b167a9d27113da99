package lambda

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/aws"
	"github.com/cutover-dev/cutover/internal/localaws"
	"github.com/cutover-dev/cutover/pipeline"
)

// fakeProcessor finishes messages whose body is "ok" and fails the rest.
type fakeProcessor struct {
	mu   sync.Mutex
	seen []cutover.Message
}

func (f *fakeProcessor) ProcessMessage(_ context.Context, step pipeline.StepRef, m cutover.Message) error {
	f.mu.Lock()
	f.seen = append(f.seen, m)
	f.mu.Unlock()
	if step != (pipeline.StepRef{Workflow: "orders", Step: "respond"}) {
		return fmt.Errorf("unexpected step %v", step)
	}
	if string(m.Body) == "ok" {
		return nil
	}
	return pipeline.ErrNotAcknowledged
}

func (f *fakeProcessor) StepOfQueue(q string) (pipeline.StepRef, bool) {
	if q == "orders--respond" {
		return pipeline.StepRef{Workflow: "orders", Step: "respond"}, true
	}
	return pipeline.StepRef{}, false
}

func record(id, queue, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "r-" + id, Body: body, EventSource: "aws:sqs",
		EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:" + queue,
		Attributes:     map[string]string{"ApproximateReceiveCount": "2", "SentTimestamp": "1715941815123"}}
}

func TestHandleMapsRecordsAndFailures(t *testing.T) {
	p := &fakeProcessor{}
	h := NewHandler(p, HandlerOptions{QueuePrefix: "cutover-", Concurrency: 3})
	ev := events.SQSEvent{Records: []events.SQSMessage{
		record("1", "cutover-orders--respond", "ok"),
		record("2", "cutover-orders--respond", "retry me"),
		record("3", "other-orders--respond", "ok"),    // not our prefix
		record("4", "cutover-refunds--respond", "ok"), // not our step
		record("5", "cutover-orders--respond", "ok"),
		record("6", "cutover-orders--respond", "again"),
	}}
	binary := record("7", "cutover-orders--respond", "AP8=")
	binary.MessageAttributes = map[string]events.SQSMessageAttribute{"cutover-body": {StringValue: ptr("base64"), DataType: "String"}}
	ev.Records = append(ev.Records, binary)
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{
		{ItemIdentifier: "2"}, {ItemIdentifier: "3"}, {ItemIdentifier: "4"}, {ItemIdentifier: "6"}, {ItemIdentifier: "7"},
	}}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	for _, m := range p.seen {
		if m.ReceiveCount != 2 || !m.SentAt.Equal(time.UnixMilli(1715941815123)) || m.Receipt != "r-"+m.ID {
			t.Errorf("message %s: %+v", m.ID, m)
		}
		if m.ID == "7" && string(m.Body) != "\x00\xff" {
			t.Errorf("binary body decoded to %q", m.Body)
		}
	}
	if len(p.seen) != 5 {
		t.Errorf("processed %d messages, want the 5 of our step queue", len(p.seen))
	}
}

func ptr[T any](v T) *T { return &v }

// The end-to-end test runs the real pipeline on the aws backend against the
// local servers, with records built from a real ReceiveMessage the way the
// Lambda event source mapping builds them.

var (
	serversOnce sync.Once
	servers     *localaws.Servers
	serversErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if servers != nil {
		servers.Stop()
	}
	os.Exit(code)
}

func needServers(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local AWS servers (skipped with -short)")
	}
	serversOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		servers, serversErr = localaws.Start(ctx, os.Stderr)
	})
	if serversErr != nil {
		t.Fatalf("local AWS servers: %v", serversErr)
	}
}

func TestHandleOnAWSBackend(t *testing.T) {
	needServers(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := fmt.Sprintf("%x", time.Now().UnixNano())[8:]
	cfg, err := cutover.Parse([]byte(fmt.Sprintf(`
legacy: http://127.0.0.1:1
backend:
  kind: aws
  table: lambda-%[1]s
  bucket: lambda-%[1]s
  queue_prefix: l%[1]s-
  sqs_endpoint: %[2]s
  s3_endpoint: %[2]s
  dynamodb_endpoint: %[3]s
worker:
  max_attempts: 3
workflows:
  - name: orders
    route: POST /orders
`, id, servers.SQS, servers.DynamoDB)))
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	handler := pipeline.HandlerFunc(func(_ context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		switch body := string(ev.Request.Body); {
		case strings.HasPrefix(body, "fail"):
			return nil, errors.New("downstream 503")
		case strings.HasPrefix(body, "permanent"):
			return nil, cutover.Permanent(errors.New("rejected"))
		}
		return &cutover.Outcome{Status: 201, Body: cutover.Body(`{"ok":true}`)}, nil
	})
	fn, err := New(ctx, cfg, Options{
		Handlers: map[pipeline.StepRef]pipeline.Handler{{Workflow: "orders", Step: cutover.RespondStep}: handler},
		AWS:      aws.Options{Credentials: creds, RetryBase: time.Millisecond, MaxBackoff: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Backend.Close()
	if err := fn.Backend.Init(ctx, cfg, false, new(strings.Builder)); err != nil {
		t.Fatal(err)
	}
	st := fn.Backend.Stores()
	pub := pipeline.NewPublisher(cfg, pipeline.PublisherStores{Queue: st.Queue, Archive: st.Archive, Transitions: st.Transitions, Blobs: st.Blobs})
	bodies := []string{"ok-1", "fail-1", "ok-2", "permanent-1", "ok-3", "fail-2"}
	byEvent := map[string]string{}
	var evs []*cutover.Event
	for _, body := range bodies {
		eid := cutover.NewEventID()
		evs = append(evs, &cutover.Event{ID: eid, Workflow: "orders", Step: cutover.RespondStep, Mode: cutover.EventShadow,
			IdempotencyKey: eid, CorrelationID: eid, ReceivedAt: time.Now().UTC(), Request: cutover.Request{Method: "POST", Path: "/orders", Body: cutover.Body(body)}})
		byEvent[eid] = body
	}
	if err := pub.Publish(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	queue := cfg.Backend.QueuePrefix + cutover.QueueName("orders", cutover.RespondStep)
	// A message the pipeline cannot decode goes to the DLQ and is finished.
	if err := st.Queue.Send(ctx, cutover.QueueName("orders", cutover.RespondStep), []cutover.OutgoingMessage{{ID: "junk", Body: []byte("not an event")}}); err != nil {
		t.Fatal(err)
	}

	client := sqs.New(sqs.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: &servers.SQS})
	url, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &queue})
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	for len(ev.Records) < len(bodies)+1 {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			VisibilityTimeout: 30, MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			t.Fatalf("received %d of %d messages", len(ev.Records), len(bodies)+1)
		}
		for _, m := range out.Messages {
			r := events.SQSMessage{MessageId: *m.MessageId, ReceiptHandle: *m.ReceiptHandle, Body: *m.Body, Attributes: m.Attributes,
				EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:" + queue, AWSRegion: "us-east-1"}
			for k, v := range m.MessageAttributes {
				if r.MessageAttributes == nil {
					r.MessageAttributes = map[string]events.SQSMessageAttribute{}
				}
				r.MessageAttributes[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: *v.DataType}
			}
			ev.Records = append(ev.Records, r)
		}
	}
	resp, err := fn.Handle(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, r := range ev.Records {
		if e, err := cutover.DecodeEvent([]byte(r.Body)); err == nil && strings.HasPrefix(byEvent[e.ID], "fail") {
			want = append(want, r.MessageId)
		}
	}
	for _, f := range resp.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	sort.Strings(want)
	sort.Strings(got)
	if len(want) != 2 {
		t.Fatalf("the test expects two failing messages, has %d", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BatchItemFailures (-want +got):\n%s", diff)
	}
	// The finished events are recorded; the dead-lettered ones moved.
	for eid, body := range byEvent {
		h, err := st.Transitions.History(ctx, eid)
		if err != nil {
			t.Fatal(err)
		}
		wantState := map[string]cutover.EventState{"ok": cutover.StateSucceeded, "fail": cutover.StateRetrying, "permanent": cutover.StateDeadLettered}[strings.Split(body, "-")[0]]
		if s := cutover.StateOf(h); s != wantState {
			t.Errorf("event %s (%s): state %s, want %s", eid, body, s, wantState)
		}
	}
	dlq, err := st.Queue.Receive(ctx, cutover.DeadLetterName("orders", cutover.RespondStep), cutover.ReceiveOptions{Max: 10, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(dlq) != 2 {
		t.Errorf("the DLQ holds %d messages, want the permanent failure and the undecodable one", len(dlq))
	}
}
