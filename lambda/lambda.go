// Package lambda runs cutover's workers on AWS Lambda: the SQS event source
// mapping receives the messages, and Handler.Handle processes each one with
// the pipeline's own per-message processing (idempotency, retries with
// backoff, outcomes, dead-lettering), reporting the messages to redeliver
// as partial batch failures. The event source mapping must enable
// FunctionResponseTypes ReportBatchItemFailures; see examples/lambda.
package lambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/aws"
	"github.com/cutover-dev/cutover/pipeline"
	"github.com/cutover-dev/cutover/redact"
)

// EnvConfig names the environment variable holding the config file's path
// (as for every cutover command); default cutover.DefaultConfigFile.
const EnvConfig = "CUTOVER_CONFIG"

// DefaultConcurrency is how many messages of one batch are processed at
// once.
const DefaultConcurrency = 10

// Processor is what Handler needs from the worker: *pipeline.Worker.
type Processor interface {
	ProcessMessage(ctx context.Context, step pipeline.StepRef, m cutover.Message) error
	StepOfQueue(queue string) (pipeline.StepRef, bool)
}

// Handler handles the SQS events of one or more step queues.
type Handler struct {
	p           Processor
	prefix      string
	concurrency int
	log         *slog.Logger
}

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	// QueuePrefix is the backend's queue_prefix: an event's queue name
	// without it names the step.
	QueuePrefix string
	// Concurrency bounds the messages of one batch processed at once;
	// default DefaultConcurrency.
	Concurrency int
	Logger      *slog.Logger
}

// NewHandler returns a Handler that processes messages with p.
func NewHandler(p Processor, opt HandlerOptions) *Handler {
	h := &Handler{p: p, prefix: opt.QueuePrefix, concurrency: opt.Concurrency, log: opt.Logger}
	if h.concurrency <= 0 {
		h.concurrency = DefaultConcurrency
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// Handle processes the batch and returns, as BatchItemFailures, exactly the
// messages that were not finished: they stay in the queue and Lambda
// redelivers them after their visibility timeout (the pipeline sets it to
// the retry backoff). A finished message (succeeded, duplicate, or
// dead-lettered) is deleted by the pipeline itself, so Lambda deleting it
// again is harmless.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	failed := make([]bool, len(ev.Records))
	sem := make(chan struct{}, h.concurrency)
	var wg sync.WaitGroup
	for i, r := range ev.Records {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := h.process(ctx, r); err != nil {
				failed[i] = true
				level := slog.LevelWarn
				if errors.Is(err, pipeline.ErrNotAcknowledged) {
					level = slog.LevelInfo // a scheduled retry
				}
				h.log.Log(ctx, level, "message not finished; Lambda will redeliver it", "message_id", r.MessageId, "queue", queueName(r.EventSourceARN), "err", err)
			}
		}()
	}
	wg.Wait()
	var resp events.SQSEventResponse
	for i, r := range ev.Records {
		if failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp, nil
}

// process maps one record to its step and message and processes it.
func (h *Handler) process(ctx context.Context, r events.SQSMessage) error {
	q := queueName(r.EventSourceARN)
	name, ok := strings.CutPrefix(q, h.prefix)
	if !ok {
		return fmt.Errorf("lambda: queue %q does not start with the queue prefix %q", q, h.prefix)
	}
	step, ok := h.p.StepOfQueue(name)
	if !ok {
		return fmt.Errorf("lambda: queue %q is not a step queue of this worker", q)
	}
	m, err := Message(r)
	if err != nil {
		return err
	}
	return h.p.ProcessMessage(ctx, step, m)
}

// Message maps an SQS event record to the message the aws backend's
// Receive would have returned.
func Message(r events.SQSMessage) (cutover.Message, error) {
	var attrs map[string]string
	for k, v := range r.MessageAttributes {
		if v.StringValue == nil {
			continue // cutover sends string attributes only
		}
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs[k] = *v.StringValue
	}
	count, sent := aws.SystemAttributes(r.Attributes)
	m, err := aws.DecodeMessage(aws.RawMessage{
		MessageID: r.MessageId, ReceiptHandle: r.ReceiptHandle, Body: r.Body, Attributes: attrs, ReceiveCount: count, SentAt: sent,
	})
	if err != nil {
		return cutover.Message{}, fmt.Errorf("lambda: %w", err)
	}
	return m, nil
}

// queueName is the last part of a queue ARN, arn:aws:sqs:region:account:name.
func queueName(arn string) string {
	return arn[strings.LastIndex(arn, ":")+1:]
}

// Options configure New.
type Options struct {
	// Handlers are the Go handlers of the steps; a step without one uses
	// its HTTP target.
	Handlers map[pipeline.StepRef]pipeline.Handler
	// Pairs compares the outcome pairs this function completes; nil leaves
	// them to the comparator's sweep.
	Pairs      pipeline.PairHandler
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Concurrency bounds the messages of one batch processed at once.
	Concurrency int
	// AWS configures the backend (nil credentials: the function's role).
	AWS aws.Options
}

// Function is a Handler with the backend it opened.
type Function struct {
	*Handler
	Backend *aws.Backend
	Worker  *pipeline.Worker
}

// New opens the aws backend that cfg names and builds the worker and the
// handler. Call it once per cold start (outside the handler) and Close it
// never: the Lambda runtime freezes and discards the process.
func New(ctx context.Context, cfg *cutover.Config, opt Options) (*Function, error) {
	if cfg.Backend.Kind != cutover.BackendAWS {
		return nil, fmt.Errorf("lambda: backend.kind is %q; a Lambda worker needs the aws backend", cfg.Backend.Kind)
	}
	awsOpt := opt.AWS
	if awsOpt.Registerer == nil {
		awsOpt.Registerer = opt.Registerer
	}
	if awsOpt.Logger == nil {
		awsOpt.Logger = opt.Logger
	}
	b, err := aws.Open(ctx, cfg.Backend, awsOpt)
	if err != nil {
		return nil, fmt.Errorf("lambda: %w", err)
	}
	redactors, err := redact.NewSet(cfg)
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("lambda: %w", err)
	}
	st := b.Stores()
	pub := pipeline.NewPublisher(cfg, pipeline.PublisherStores{Queue: st.Queue, Archive: st.Archive, Transitions: st.Transitions, Blobs: st.Blobs, Outcomes: st.Outcomes})
	w, err := pipeline.New(cfg, pipeline.WorkerStores{Queue: st.Queue, Idempotency: st.Idempotency, Transitions: st.Transitions, Outcomes: st.Outcomes, Blobs: st.Blobs},
		pub, pipeline.Options{Handlers: opt.Handlers, Pairs: opt.Pairs, Logger: opt.Logger, Registerer: opt.Registerer, Redact: redactors.Outcome})
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("lambda: %w", err)
	}
	h := NewHandler(w, HandlerOptions{QueuePrefix: cfg.Backend.QueuePrefix, Concurrency: opt.Concurrency, Logger: opt.Logger})
	return &Function{Handler: h, Backend: b, Worker: w}, nil
}

// LoadConfig reads the config file named by $CUTOVER_CONFIG (default
// cutover.yaml in the working directory, which for Lambda is the
// deployment package's root).
func LoadConfig() (*cutover.Config, error) {
	path := os.Getenv(EnvConfig)
	if path == "" {
		path = cutover.DefaultConfigFile
	}
	return cutover.Load(path)
}
