package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cutover-dev/cutover"
)

// Queue implements cutover.Queue on SQS. Queue q of cutover is the SQS
// queue prefix+q.
type Queue struct {
	client   *sqs.Client
	prefix   string
	window   time.Duration
	prefetch bool
	backoff  backoff
	attempts int // rounds for failed batch entries
	timeout  time.Duration

	mu     sync.Mutex
	queues map[string]*sqsQueue // by cutover name
	closed bool
}

// sqsQueue is one queue's URL, batchers and what receives observed.
type sqsQueue struct {
	name, url string
	send      *coalescer[sendEntry]
	del       *coalescer[string]
	vis       *coalescer[visEntry]

	lagMu      sync.Mutex
	oldestSent time.Time // oldest SentTimestamp of the latest non-empty receive

	bufMu sync.Mutex
	buf   map[int32][]prefetched // received ahead, by visibility in seconds
}

// prefetched is a message received ahead of a caller asking for it.
type prefetched struct {
	m  cutover.Message
	at time.Time
}

type sendEntry struct{ m encodedMessage }

type visEntry struct {
	receipt string
	seconds int32
}

// Retention of SQS messages: the longest SQS allows, so that dead-lettered
// events wait two weeks for a replay.
const messageRetention = "1209600"

func newQueue(client *sqs.Client, prefix string, o Options) *Queue {
	return &Queue{
		client: client, prefix: prefix, window: o.BatchWindow, prefetch: !o.DisablePrefetch,
		backoff: backoff{base: o.RetryBase, max: o.MaxBackoff}, attempts: o.MaxAttempts,
		timeout: 2 * time.Minute, queues: map[string]*sqsQueue{},
	}
}

var _ cutover.Queue = (*Queue)(nil)

// sqsName is the SQS name of cutover queue name.
func (q *Queue) sqsName(name string) string { return q.prefix + name }

// queue returns the cached URL and batchers of name, looking the URL up
// once. ErrNotFound if the queue does not exist.
func (q *Queue) queue(ctx context.Context, name string) (*sqsQueue, error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, errClosed
	}
	sq, ok := q.queues[name]
	q.mu.Unlock()
	if ok {
		return sq, nil
	}
	out, err := q.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: ptr(q.sqsName(name))})
	if err != nil {
		if queueMissing(err) {
			return nil, fmt.Errorf("queue %q: %w", name, cutover.ErrNotFound)
		}
		return nil, classified(err)
	}
	return q.remember(name, deref(out.QueueUrl)), nil
}

func (q *Queue) remember(name, url string) *sqsQueue {
	q.mu.Lock()
	defer q.mu.Unlock()
	if sq, ok := q.queues[name]; ok {
		return sq
	}
	sq := &sqsQueue{name: name, url: url, buf: map[int32][]prefetched{}}
	sq.send = &coalescer[sendEntry]{max: MaxBatchEntries, maxBytes: MaxMessageBytes, size: func(e sendEntry) int { return e.m.size },
		window: q.window, timeout: q.timeout, flush: func(ctx context.Context, b []sendEntry) []error { return q.flushSend(ctx, sq, b) }}
	sq.del = &coalescer[string]{max: MaxBatchEntries, window: q.window, timeout: q.timeout,
		flush: func(ctx context.Context, b []string) []error { return q.flushDelete(ctx, sq, b) }}
	sq.vis = &coalescer[visEntry]{max: MaxBatchEntries, window: q.window, timeout: q.timeout,
		flush: func(ctx context.Context, b []visEntry) []error { return q.flushVisibility(ctx, sq, b) }}
	q.queues[name] = sq
	return sq
}

// forget drops a queue whose URL stopped working (deleted outside).
func (q *Queue) forget(sq *sqsQueue) {
	q.mu.Lock()
	if q.queues[sq.name] == sq {
		delete(q.queues, sq.name)
	}
	q.mu.Unlock()
}

// close flushes what is pending and makes later calls fail.
func (q *Queue) close() {
	q.mu.Lock()
	q.closed = true
	qs := make([]*sqsQueue, 0, len(q.queues))
	for _, sq := range q.queues {
		qs = append(qs, sq)
	}
	q.mu.Unlock()
	for _, sq := range qs {
		// Hand prefetched messages back so other consumers get them now
		// rather than after their visibility timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		q.release(ctx, sq, sq.takeAll())
		cancel()
		sq.send.close()
		sq.del.close()
		sq.vis.close()
	}
}

// EnsureQueue creates the queue if needed and sets its redrive policy. A
// dead-letter queue that does not exist yet is created too.
func (q *Queue) EnsureQueue(ctx context.Context, spec cutover.QueueSpec) error {
	switch {
	case spec.Name == "":
		return errors.New("aws: ensure queue: name is empty")
	case spec.DeadLetter == spec.Name:
		return fmt.Errorf("aws: ensure queue %s: it cannot be its own dead-letter queue", spec.Name)
	case spec.DeadLetter != "" && spec.MaxReceiveCount < 1:
		return fmt.Errorf("aws: ensure queue %s: MaxReceiveCount %d must be at least 1 with a dead-letter queue", spec.Name, spec.MaxReceiveCount)
	case spec.MaxReceiveCount < 0:
		return fmt.Errorf("aws: ensure queue %s: MaxReceiveCount %d is negative", spec.Name, spec.MaxReceiveCount)
	case len(q.sqsName(spec.Name)) > 80:
		return fmt.Errorf("aws: ensure queue %s: the SQS name %s is longer than 80 characters", spec.Name, q.sqsName(spec.Name))
	}
	url, err := q.create(ctx, spec.Name)
	if err != nil {
		return fmt.Errorf("aws: ensure queue %s: %w", spec.Name, err)
	}
	if spec.DeadLetter == "" {
		return nil
	}
	dlqURL, err := q.create(ctx, spec.DeadLetter)
	if err != nil {
		return fmt.Errorf("aws: ensure queue %s: dead-letter queue %s: %w", spec.Name, spec.DeadLetter, err)
	}
	if err := q.setRedrive(ctx, url, dlqURL, spec.MaxReceiveCount); err != nil {
		return fmt.Errorf("aws: ensure queue %s: %w", spec.Name, err)
	}
	return nil
}

// create creates queue name if it does not exist and returns its URL.
func (q *Queue) create(ctx context.Context, name string) (string, error) {
	if out, err := q.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: ptr(q.sqsName(name))}); err == nil {
		q.remember(name, deref(out.QueueUrl))
		return deref(out.QueueUrl), nil
	} else if !queueMissing(err) {
		return "", classified(err)
	}
	out, err := q.client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  ptr(q.sqsName(name)),
		Attributes: map[string]string{string(types.QueueAttributeNameMessageRetentionPeriod): messageRetention},
	})
	if errorCode(err) == "QueueNameExists" || errorCode(err) == "QueueAlreadyExists" {
		// Created concurrently with other attributes: it exists, use it.
		var got *sqs.GetQueueUrlOutput
		if got, err = q.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: ptr(q.sqsName(name))}); err == nil {
			q.remember(name, deref(got.QueueUrl))
			return deref(got.QueueUrl), nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("create %s: %w", q.sqsName(name), classified(err))
	}
	q.remember(name, deref(out.QueueUrl))
	return deref(out.QueueUrl), nil
}

// setRedrive points the queue at url to its dead-letter queue.
func (q *Queue) setRedrive(ctx context.Context, url, dlqURL string, maxReceive int) error {
	attrs, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: ptr(dlqURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return fmt.Errorf("dead-letter queue ARN: %w", classified(err))
	}
	policy, err := json.Marshal(map[string]any{
		"deadLetterTargetArn": attrs.Attributes[string(types.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     maxReceive,
	})
	if err != nil {
		return err
	}
	_, err = q.client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl:   ptr(url),
		Attributes: map[string]string{string(types.QueueAttributeNameRedrivePolicy): string(policy)},
	})
	if err != nil {
		return fmt.Errorf("redrive policy: %w", classified(err))
	}
	return nil
}

// Send enqueues msgs. Entries that cannot be sent (a delay out of range,
// too large, or refused by SQS) are reported in a *cutover.BatchError; the
// others are sent. Concurrent calls on one queue share batch requests.
func (q *Queue) Send(ctx context.Context, queue string, msgs []cutover.OutgoingMessage) error {
	sq, err := q.queue(ctx, queue)
	if err != nil {
		return fmt.Errorf("aws: send %s: %w", queue, err)
	}
	failed := map[string]error{}
	entries := make([]sendEntry, 0, len(msgs))
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		e, err := encodeMessage(m)
		if err != nil {
			failed[m.ID] = err
			continue
		}
		entries = append(entries, sendEntry{m: e})
		ids = append(ids, m.ID)
	}
	errs := sq.send.submit(ctx, entries)
	requests := len(errs) > 0 // every entry failed because its request did
	var first error
	for i, err := range errs {
		if err == nil {
			requests = false
			continue
		}
		failed[ids[i]] = err
		if cause, ok := wholeRequest(err); !ok {
			requests = false
		} else if first == nil {
			first = cause
		}
	}
	switch {
	case requests && len(failed) == len(errs):
		// No such queue, or unavailable: that error is the answer, so that
		// callers can branch on it.
		return fmt.Errorf("aws: send %s: %w", queue, first)
	case len(failed) > 0:
		return fmt.Errorf("aws: send %s: %w", queue, &cutover.BatchError{Failed: failed})
	}
	return nil
}

// wholeRequest returns the cause of an entry's error if it is not about
// the entry: its request failed, the caller gave up, or the backend closed.
func wholeRequest(err error) (error, bool) {
	var rf requestFailed
	switch {
	case errors.As(err, &rf):
		return rf.err, true
	case errors.Is(err, errClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err, true
	}
	return nil, false
}

// Delete acknowledges deliveries. A stale receipt is ignored, as SQS does.
// Concurrent calls on one queue share batch requests.
func (q *Queue) Delete(ctx context.Context, queue string, receipts []string) error {
	if len(receipts) == 0 {
		return nil
	}
	sq, err := q.queue(ctx, queue)
	if err != nil {
		return fmt.Errorf("aws: delete %s: %w", queue, err)
	}
	failed := map[string]error{}
	requests := true // every receipt failed because its request did
	var first error
	for i, err := range sq.del.submit(ctx, receipts) {
		if err == nil {
			requests = false
			continue
		}
		failed[receipts[i]] = err
		cause, ok := wholeRequest(err)
		if len(receipts) == 1 {
			cause, ok = err, true
		}
		if !ok {
			requests = false
		} else if first == nil {
			first = cause
		}
	}
	switch {
	case requests && len(failed) > 0:
		return fmt.Errorf("aws: delete %s: %w", queue, first)
	case len(failed) > 0:
		return fmt.Errorf("aws: delete %s: %w", queue, &cutover.BatchError{Failed: failed})
	}
	return nil
}

// staleReceipt reports whether a failed batch entry says its receipt no
// longer names an in-flight delivery: deleted, received again since, or
// expired (SQS says InvalidParameterValue "...receipt handle has expired").
func staleReceipt(f types.BatchResultErrorEntry) bool {
	switch deref(f.Code) {
	case "ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight":
		return true
	case "InvalidParameterValue":
		return strings.Contains(strings.ToLower(deref(f.Message)), "receipt handle")
	}
	return false
}

func (q *Queue) flushDelete(ctx context.Context, sq *sqsQueue, batch []string) []error {
	return q.flushBatch(ctx, sq, len(batch), func(ctx context.Context, todo []int) (batchAnswer, error) {
		in := &sqs.DeleteMessageBatchInput{QueueUrl: ptr(sq.url)}
		for _, i := range todo {
			in.Entries = append(in.Entries, types.DeleteMessageBatchRequestEntry{Id: ptr(strconv.Itoa(i)), ReceiptHandle: ptr(batch[i])})
		}
		out, err := q.client.DeleteMessageBatch(ctx, in)
		if err != nil {
			return batchAnswer{}, err
		}
		return batchAnswer{failed: out.Failed}, nil
	}, func(f types.BatchResultErrorEntry) (error, bool) {
		return nil, staleReceipt(f) // a stale receipt is not an error for Delete
	})
}

// ChangeVisibility hides an in-flight delivery for timeout from now, rounded
// up to whole seconds (a 200ms backoff hides it for 1s; only 0 is "at
// once"). ErrStaleReceipt if the delivery is no longer in flight.
// Concurrent calls on one queue share batch requests.
func (q *Queue) ChangeVisibility(ctx context.Context, queue, receipt string, timeout time.Duration) error {
	if timeout < 0 || timeout > MaxVisibility {
		return fmt.Errorf("aws: change visibility %s: timeout %v is out of range (0 to %v)", queue, timeout, MaxVisibility)
	}
	if receipt == "" {
		return fmt.Errorf("aws: change visibility %s: receipt is empty: %w", queue, cutover.ErrStaleReceipt)
	}
	sq, err := q.queue(ctx, queue)
	if err != nil {
		return fmt.Errorf("aws: change visibility %s: %w", queue, err)
	}
	errs := sq.vis.submit(ctx, []visEntry{{receipt: receipt, seconds: int32(ceilSeconds(timeout))}})
	if errs[0] != nil {
		return fmt.Errorf("aws: change visibility %s: %w", queue, errs[0])
	}
	return nil
}

func (q *Queue) flushVisibility(ctx context.Context, sq *sqsQueue, batch []visEntry) []error {
	return q.flushBatch(ctx, sq, len(batch), func(ctx context.Context, todo []int) (batchAnswer, error) {
		in := &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: ptr(sq.url)}
		for _, i := range todo {
			in.Entries = append(in.Entries, types.ChangeMessageVisibilityBatchRequestEntry{
				Id: ptr(strconv.Itoa(i)), ReceiptHandle: ptr(batch[i].receipt), VisibilityTimeout: batch[i].seconds,
			})
		}
		out, err := q.client.ChangeMessageVisibilityBatch(ctx, in)
		if err != nil {
			return batchAnswer{}, err
		}
		return batchAnswer{failed: out.Failed}, nil
	}, func(f types.BatchResultErrorEntry) (error, bool) {
		if staleReceipt(f) {
			return fmt.Errorf("%s: %w", deref(f.Code), cutover.ErrStaleReceipt), true
		}
		return nil, false
	})
}

// QueueStats reports the queue's approximate counts; messages this process
// prefetched but has not handed out count as visible. SQS has no attribute
// for the age of the oldest message; OldestAge is, while the queue holds
// messages, the age now of the oldest message handed out by this process's
// latest non-empty receive from the queue (how far behind its consumers
// are), and 0 when the queue is empty or this process has not received
// from it. CloudWatch's ApproximateAgeOfOldestMessage is the exact figure.
func (q *Queue) QueueStats(ctx context.Context, queue string) (cutover.QueueStats, error) {
	sq, err := q.queue(ctx, queue)
	if err != nil {
		return cutover.QueueStats{}, fmt.Errorf("aws: queue stats %s: %w", queue, err)
	}
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: ptr(sq.url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return cutover.QueueStats{}, fmt.Errorf("aws: queue stats %s: %w", queue, q.requestError(sq, err))
	}
	count := func(a types.QueueAttributeName) int64 {
		n, _ := strconv.ParseInt(out.Attributes[string(a)], 10, 64) // absent: 0
		return n
	}
	st := cutover.QueueStats{
		Visible:  count(types.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: count(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		Delayed:  count(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
	}
	// Prefetched messages wait for a consumer like visible ones do.
	if n := min(sq.buffered(), st.InFlight); n > 0 {
		st.Visible += n
		st.InFlight -= n
	}
	if st.Visible+st.InFlight+st.Delayed > 0 {
		sq.lagMu.Lock()
		if !sq.oldestSent.IsZero() {
			st.OldestAge = max(time.Since(sq.oldestSent), 0)
		}
		sq.lagMu.Unlock()
	}
	return st, nil
}
