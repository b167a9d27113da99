package aws

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cutover-dev/cutover"
)

// Batch requests: every SQS batch call goes through flushBatch, which
// retries the entries SQS failed on its side and reports the rest.

// flushSend sends one batch (at most 10 entries and 256 KiB).
func (q *Queue) flushSend(ctx context.Context, sq *sqsQueue, batch []sendEntry) []error {
	return q.flushBatch(ctx, sq, len(batch), func(ctx context.Context, todo []int) (batchAnswer, error) {
		in := &sqs.SendMessageBatchInput{QueueUrl: ptr(sq.url)}
		for _, i := range todo {
			m := batch[i].m
			in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{
				Id: ptr(strconv.Itoa(i)), MessageBody: ptr(m.body), MessageAttributes: m.attrs, DelaySeconds: m.delay,
			})
		}
		out, err := q.client.SendMessageBatch(ctx, in)
		if err != nil {
			return batchAnswer{}, err
		}
		return batchAnswer{failed: out.Failed}, nil
	}, nil)
}

// batchAnswer is the part of a batch response that needs handling: entries
// not named in failed succeeded.
type batchAnswer struct {
	failed []types.BatchResultErrorEntry
}

// verdict says what a failed batch entry means when that is not "retry it
// if it was SQS's fault": final reports err as the entry's result (nil:
// success after all).
type verdict func(f types.BatchResultErrorEntry) (err error, final bool)

// flushBatch runs call on the entries still to do until none is left: a
// failed request fails every entry (the SDK already retried it), a Failed
// entry that was not the sender's fault is retried with backoff within the
// attempt budget, and the rest are reported.
func (q *Queue) flushBatch(ctx context.Context, sq *sqsQueue, n int, call func(context.Context, []int) (batchAnswer, error), v verdict) []error {
	errs := make([]error, n)
	todo := make([]int, n)
	for i := range todo {
		todo[i] = i
	}
	for round := 1; len(todo) > 0; round++ {
		ans, err := call(ctx, todo)
		if err != nil {
			err = requestFailed{q.requestError(sq, err)}
			for _, i := range todo {
				errs[i] = err
			}
			return errs
		}
		var retry []int
		for _, f := range ans.failed {
			i, err := strconv.Atoi(deref(f.Id))
			if err != nil || i < 0 || i >= n {
				continue
			}
			if v != nil {
				if err, final := v(f); final {
					errs[i] = err
					continue
				}
			}
			ferr := fmt.Errorf("%s: %s", deref(f.Code), deref(f.Message))
			switch {
			case f.SenderFault:
				errs[i] = ferr
			case round >= q.attempts:
				errs[i] = fmt.Errorf("%w: %w", cutover.ErrUnavailable, ferr)
			default:
				retry = append(retry, i)
			}
		}
		todo = retry
		if len(todo) > 0 {
			if err := sleep(ctx, q.backoff.delay(round, false)); err != nil {
				for _, i := range todo {
					errs[i] = requestFailed{err}
				}
				return errs
			}
		}
	}
	return errs
}

// requestFailed is an entry's error when its whole batch request failed,
// as opposed to SQS failing the entry itself.
type requestFailed struct{ err error }

func (r requestFailed) Error() string { return r.err.Error() }
func (r requestFailed) Unwrap() error { return r.err }

// requestError classifies the error of a whole batch request.
func (q *Queue) requestError(sq *sqsQueue, err error) error {
	if queueMissing(err) {
		q.forget(sq)
		return fmt.Errorf("queue %q: %w", sq.name, cutover.ErrNotFound)
	}
	return classified(err)
}
