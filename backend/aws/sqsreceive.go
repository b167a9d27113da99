package aws

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cutover-dev/cutover"
)

// Receive returns up to opt.Max messages (default 1, at most 10), hiding
// them for opt.Visibility (default 30s), long-polling up to opt.Wait for the
// first. SQS counts in whole seconds: visibility and wait are rounded up.
//
// Unless Options.DisablePrefetch is set, a receive always asks SQS for 10
// messages and keeps those beyond opt.Max for the next calls with the same
// visibility, as a worker that takes only what it can start asks for one or
// two at a time. A prefetched message is handed out only within a quarter
// of its visibility timeout (so it still has three quarters left, more than
// the pipeline's lease heartbeat needs); older ones, and those left when
// the backend closes, are made visible again at once.
func (q *Queue) Receive(ctx context.Context, queue string, opt cutover.ReceiveOptions) ([]cutover.Message, error) {
	max, vis := opt.Max, opt.Visibility
	if max == 0 {
		max = 1
	}
	switch {
	case max < 0 || max > MaxBatchEntries:
		return nil, fmt.Errorf("aws: receive %s: Max %d is out of range (1 to %d)", queue, opt.Max, MaxBatchEntries)
	case vis < 0 || vis > MaxVisibility:
		return nil, fmt.Errorf("aws: receive %s: Visibility %v is out of range (0 to %v)", queue, opt.Visibility, MaxVisibility)
	case opt.Wait < 0:
		return nil, fmt.Errorf("aws: receive %s: Wait %v is negative", queue, opt.Wait)
	}
	visSeconds := int32(ceilSeconds(vis))
	if vis == 0 {
		visSeconds = defaultVisSecond
	}
	sq, err := q.queue(ctx, queue)
	if err != nil {
		return nil, fmt.Errorf("aws: receive %s: %w", queue, err)
	}
	ask := max
	if q.prefetch {
		msgs, stale := sq.take(visSeconds, max, time.Now())
		if len(stale) > 0 {
			q.release(ctx, sq, stale)
		}
		if len(msgs) > 0 {
			return msgs, nil
		}
		ask = MaxBatchEntries
	}
	deadline := time.Now().Add(opt.Wait)
	for {
		wait := min(ceilSeconds(time.Until(deadline)), int64(MaxWait/time.Second))
		out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:              ptr(sq.url),
			MaxNumberOfMessages:   int32(ask),
			VisibilityTimeout:     visSeconds,
			WaitTimeSeconds:       int32(wait),
			MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp,
			},
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("aws: receive %s: %w", queue, ctx.Err())
			}
			return nil, fmt.Errorf("aws: receive %s: %w", queue, q.requestError(sq, err))
		}
		if len(out.Messages) > 0 {
			msgs := make([]cutover.Message, 0, len(out.Messages))
			var oldest time.Time
			for _, sm := range out.Messages {
				m, err := DecodeMessage(rawFromSQS(sm))
				if err != nil {
					// Not ours to judge: hand it over as it is, so the
					// caller dead-letters it rather than it looping here.
					m = cutover.Message{ID: deref(sm.MessageId), Receipt: deref(sm.ReceiptHandle), Body: []byte(deref(sm.Body))}
					m.ReceiveCount, m.SentAt = SystemAttributes(sm.Attributes)
				}
				if oldest.IsZero() || m.SentAt.Before(oldest) {
					oldest = m.SentAt
				}
				msgs = append(msgs, m)
			}
			sq.lagMu.Lock()
			sq.oldestSent = oldest
			sq.lagMu.Unlock()
			if len(msgs) > max {
				sq.keep(visSeconds, msgs[max:], time.Now())
				msgs = msgs[:max]
			}
			return msgs, nil
		}
		if time.Until(deadline) <= 0 {
			return nil, nil
		}
	}
}

// take hands out up to max prefetched messages received with visSeconds,
// and returns those too old to hand out.
func (sq *sqsQueue) take(visSeconds int32, max int, now time.Time) (msgs []cutover.Message, stale []prefetched) {
	maxAge := time.Duration(visSeconds) * time.Second / 4
	sq.bufMu.Lock()
	defer sq.bufMu.Unlock()
	buf := sq.buf[visSeconds]
	i := 0
	for ; i < len(buf) && len(msgs) < max; i++ {
		if now.Sub(buf[i].at) > maxAge {
			stale = append(stale, buf[i])
			continue
		}
		msgs = append(msgs, buf[i].m)
	}
	if rest := buf[i:]; len(rest) > 0 {
		sq.buf[visSeconds] = append([]prefetched(nil), rest...)
	} else {
		delete(sq.buf, visSeconds)
	}
	return msgs, stale
}

func (sq *sqsQueue) keep(visSeconds int32, msgs []cutover.Message, now time.Time) {
	sq.bufMu.Lock()
	defer sq.bufMu.Unlock()
	for _, m := range msgs {
		sq.buf[visSeconds] = append(sq.buf[visSeconds], prefetched{m: m, at: now})
	}
}

func (sq *sqsQueue) takeAll() []prefetched {
	sq.bufMu.Lock()
	defer sq.bufMu.Unlock()
	var all []prefetched
	for _, b := range sq.buf {
		all = append(all, b...)
	}
	clear(sq.buf)
	return all
}

// buffered counts the prefetched messages.
func (sq *sqsQueue) buffered() int64 {
	sq.bufMu.Lock()
	defer sq.bufMu.Unlock()
	n := 0
	for _, b := range sq.buf {
		n += len(b)
	}
	return int64(n)
}

// release makes prefetched messages visible again. A failure only delays
// them until their visibility timeout ends.
func (q *Queue) release(ctx context.Context, sq *sqsQueue, ps []prefetched) {
	if len(ps) == 0 {
		return
	}
	es := make([]visEntry, len(ps))
	for i, p := range ps {
		es[i] = visEntry{receipt: p.m.Receipt}
	}
	sq.vis.submit(ctx, es)
}
