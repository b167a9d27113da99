package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/telemetry"
)

// errLeaseLost cancels a job whose lease was taken over by a newer attempt.
var errLeaseLost = errors.New("lease lost to a newer attempt")

// job is one delivery being processed.
type job struct {
	s     *stepRunner
	msg   cutover.Message
	ev    *cutover.Event
	log   *slog.Logger
	elog  *eventLog
	key   cutover.IdempotencyKey
	epoch int64
	n     int  // attempt number
	acked bool // the delivery was deleted: nothing more to do with it

	// logMu guards elog and start: the attempt's start entry is written
	// with the attempt's end, or by a timer if the attempt runs long.
	logMu sync.Mutex
	start *cutover.Transition // the start entry, until it is written
	// pre is the received entry of an event whose start was deferred
	// (deferred.go), until it is written: it goes before everything else.
	pre      []cutover.Transition
	deferred *cutover.DeferredStart
}

// startLogAfter is how long an attempt runs before its start entry is
// written on its own. Most attempts end sooner, and their start and end go
// into the log in one write; a long one shows as running meanwhile. A crash
// mid-attempt leaves the attempt out of the log, and the next attempt's
// start entry says that an earlier one was lost.
const startLogAfter = time.Second

// logStart writes the pending start entry now.
func (j *job) logStart(ctx context.Context) {
	j.logMu.Lock()
	defer j.logMu.Unlock()
	if j.start == nil {
		return
	}
	if err := j.elog.append(ctx, notFinished, j.withStart(nil)...); err != nil {
		if !errors.Is(err, errMoot) {
			j.log.Warn("cannot log attempt start", "err", err)
		}
		return
	}
	j.written()
}

// written clears the pending entries once a write took them; the caller
// holds logMu.
func (j *job) written() { j.start, j.pre = nil, nil }

// withStart returns ts preceded by the pending entries (a deferred
// received entry, the start entry), if any; the caller holds logMu and
// calls written once the write succeeded, so a failed write keeps them for
// the next one.
func (j *job) withStart(ts []cutover.Transition) []cutover.Transition {
	if j.start == nil && len(j.pre) == 0 {
		return ts
	}
	all := append([]cutover.Transition(nil), j.pre...)
	if j.start != nil {
		all = append(all, *j.start)
	}
	return append(all, ts...)
}

// logEnd appends ts after the pending start entry, if any, in one write.
func (j *job) logEnd(ctx context.Context, stillValid func([]cutover.Transition) bool, ts ...cutover.Transition) error {
	j.logMu.Lock()
	defer j.logMu.Unlock()
	err := j.elog.append(ctx, stillValid, j.withStart(ts)...)
	if err == nil {
		j.written()
	}
	return err
}

// logLatest appends ts wherever the log is now (another attempt may have
// moved it on), after the pending start entry, if any.
func (j *job) logLatest(ctx context.Context, ts ...cutover.Transition) error {
	j.logMu.Lock()
	defer j.logMu.Unlock()
	_, err := appendLatest(ctx, j.s.w.stores.Transitions, j.ev.ID, j.withStart(ts)...)
	if err == nil {
		j.written()
	}
	return err
}

// IdempotencyScope is the key an event is deduplicated under. Shadow runs
// never satisfy live ones, and each shadow replay epoch runs afresh (that is
// what a replay is for), while a live replay keeps the live key: completed
// keys return their stored outcome.
func IdempotencyScope(ev *cutover.Event) cutover.IdempotencyKey {
	key := ev.IdempotencyKey
	if ev.Mode == cutover.EventShadow {
		key = "shadow@" + strconv.Itoa(ev.ReplayEpoch) + ":" + key
	}
	return cutover.IdempotencyKey{Workflow: ev.Workflow, Step: ev.Step, Key: key}
}

// process handles one delivery and reports whether it was acknowledged
// (deleted); otherwise it comes back later (retry, busy, or a failure).
func (s *stepRunner) process(ctx context.Context, m cutover.Message) bool {
	w := s.w
	ev, err := cutover.DecodeEvent(m.Body)
	if err != nil {
		return s.poison(ctx, m, err)
	}
	j := &job{s: s, msg: m, ev: ev, key: IdempotencyScope(ev),
		log: w.log.With("event_id", ev.ID, "workflow", ev.Workflow, "step", ev.Step, "correlation_id", ev.CorrelationID)}
	ctx = telemetry.EventContext(ctx, ev)
	if w.opt.Tracer != nil {
		var span trace.Span
		ctx, span = w.opt.Tracer.Start(ctx, "cutover.worker "+s.ref.String(),
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attribute.String("cutover.event_id", ev.ID)))
		defer span.End()
		sc := span.SpanContext()
		j.log = j.log.With("trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
	}
	if j.deferred, err = deferredStart(ctx, w.stores.Blobs, m); err != nil {
		j.log.Error("cannot read the event's deferred start; the delivery will be retried", "err", err)
		return false
	}
	switch {
	case m.ReceiveCount == 1 && ev.ReplayEpoch == 0 && j.deferred != nil:
		// A first delivery of an event whose start was deferred: its log
		// is empty, and its first write starts with the received entry.
		j.elog = &eventLog{log: w.stores.Transitions, id: ev.ID}
	case m.ReceiveCount == 1 && ev.ReplayEpoch == 0:
		// A first delivery: the log holds the publisher's received entry
		// and nothing else, so it need not be read. Should it hold more (a
		// message sent twice), the version check of the first append says
		// so, and the log is read then.
		j.elog = &eventLog{log: w.stores.Transitions, id: ev.ID, version: 1, history: []cutover.Transition{{Seq: 1, Kind: cutover.TransitionReceived}}}
	default:
		if j.elog, err = loadLog(ctx, w.stores.Transitions, ev.ID); err != nil {
			j.log.Error("cannot read transition log; the delivery will be retried", "err", err)
			return false
		}
	}
	if j.deferred != nil && len(j.elog.history) == 0 {
		j.pre = []cutover.Transition{receivedEntry(ev, m.SentAt)}
	}
	if finished(j.elog.history) {
		// A leftover delivery of an event already finished (a crash between
		// the last transition and the delete): make sure its outcome is
		// recorded, then acknowledge it.
		if err := j.ensureOutcome(ctx); err != nil {
			j.log.Error("cannot record the outcome of a finished event; the delivery will be retried", "err", err)
			return false
		}
		j.ack(ctx)
		return j.acked
	}
	j.n = j.elog.attempts() + 1
	claim, err := w.stores.Idempotency.Claim(ctx, cutover.ClaimRequest{Key: j.key, PayloadHash: ev.PayloadHash(), EventID: ev.ID, Lease: w.cfg.Worker.Visibility.D()})
	if err != nil {
		j.log.Error("idempotency claim failed; the delivery will be retried", "err", err)
		return false
	}
	switch claim.State {
	case cutover.ClaimCompleted:
		j.completed(ctx, claim)
	case cutover.ClaimBusy:
		// Another attempt holds the lease: look again after a backoff (it
		// usually finishes soon), and no later than when its lease ends.
		w.m.idempotent.WithLabelValues(ev.Workflow, ev.Step, "busy").Inc()
		wait := min(w.backoff.Delay(m.ReceiveCount), time.Until(claim.LeaseUntil)+100*time.Millisecond)
		wait = max(wait, 10*time.Millisecond)
		if err := w.stores.Queue.ChangeVisibility(ctx, s.queue, m.Receipt, wait); err != nil {
			j.log.Warn("cannot defer busy delivery", "err", err)
		}
	case cutover.ClaimConflict:
		w.m.idempotent.WithLabelValues(ev.Workflow, ev.Step, "conflict").Inc()
		cerr := cutover.Permanent(fmt.Errorf("%w: key %q was first used by event %s", cutover.ErrIdempotencyConflict, ev.IdempotencyKey, claim.EventID))
		j.log.Warn("idempotency conflict: not executed", "first_event_id", claim.EventID)
		j.deadLetter(ctx, cerr, cutover.Transition{Kind: cutover.TransitionConflict, Detail: "key first used by event " + claim.EventID})
	case cutover.ClaimAcquired:
		j.epoch = claim.Epoch
		j.run(ctx)
	}
	return j.acked
}

// completed handles a key that was already completed: by this very event
// (a crash after completing, before the log said so) or by another event
// with the same key and payload (a duplicate: no second effect).
func (j *job) completed(ctx context.Context, claim cutover.Claim) {
	w := j.s.w
	kind, detail := cutover.TransitionSucceeded, "recovered: completed before a restart"
	if j.ev.ReplayEpoch > 0 {
		detail = "replayed live: the key was completed, its stored outcome is reused"
	}
	if claim.EventID != j.ev.ID {
		kind, detail = cutover.TransitionDuplicate, "key already completed by event "+claim.EventID
		w.m.idempotent.WithLabelValues(j.ev.Workflow, j.ev.Step, "hit").Inc()
		w.m.results.WithLabelValues(j.ev.Workflow, j.ev.Step, "duplicate").Inc()
	}
	if err := j.recordOutcome(ctx, claim.Outcome); err != nil {
		j.log.Error("cannot record stored outcome; the delivery will be retried", "err", err)
		return
	}
	if err := j.logEnd(ctx, notFinished, j.transition(kind, detail)); err != nil && !errors.Is(err, errMoot) {
		j.log.Error("cannot log duplicate; the delivery will be retried", "err", err)
		return
	}
	j.ack(ctx)
}

// run executes one attempt under the lease.
func (j *job) run(ctx context.Context) {
	w, s := j.s.w, j.s
	start := j.transition(cutover.TransitionStarted, "")
	if int64(j.n) < j.epoch {
		start.Detail = fmt.Sprintf("an earlier attempt on this key did not finish (lease epoch %d)", j.epoch)
	}
	j.start = &start
	timer := time.AfterFunc(startLogAfter, func() { j.logStart(ctx) })
	w.m.attempts.WithLabelValues(j.ev.Workflow, j.ev.Step).Inc()
	out, children, err := j.call(ctx)
	timer.Stop()
	if errors.Is(err, errLeaseLost) {
		j.fenced(ctx)
		return
	}
	if err != nil && ctx.Err() != nil {
		// Shutdown grace is over: hand the event back unfinished.
		j.releaseForShutdown()
		return
	}
	if err == nil && len(children) > 0 {
		if perr := w.pub.Publish(ctx, children...); perr != nil {
			err = fmt.Errorf("emit follow-ups: %w", perr)
		}
	}
	if err != nil {
		if cutover.IsPermanent(err) || j.n >= s.maxAttempts {
			j.deadLetter(ctx, err, cutover.Transition{})
			return
		}
		j.retry(ctx, err)
		return
	}
	if w.opt.Redact != nil && j.ev.Mode == cutover.EventShadow {
		out = w.opt.Redact(j.ev.Workflow, out)
	}
	ts := []cutover.Transition{j.transition(cutover.TransitionSucceeded, fmt.Sprintf("status %d in %s", out.Status, out.Latency.D().Round(time.Microsecond)))}
	for _, c := range children {
		ts = append(ts, j.transition(cutover.TransitionEmitted, c.Step+" "+c.ID))
	}
	var ok bool
	if f, can := w.stores.Idempotency.(cutover.Finisher); can {
		ok = j.finishAtOnce(ctx, f, out, ts)
	} else {
		ok = j.finishInSteps(ctx, out, ts)
	}
	if !ok {
		return
	}
	w.m.results.WithLabelValues(j.ev.Workflow, j.ev.Step, "succeeded").Inc()
	j.log.Info("attempt succeeded", "attempt", j.n, "status", out.Status, "latency", out.Latency.D().String())
	j.ack(ctx)
}

// call runs the handler with its middleware: lease extension, per-attempt
// timeout, downstream limit, panic recovery, effects and follow-ups.
func (j *job) call(ctx context.Context) (out *cutover.Outcome, children []*cutover.Event, err error) {
	w, s := j.s.w, j.s
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopBeat := j.heartbeat(hctx, cancel)
	defer stopBeat()
	tctx, tcancel := context.WithTimeout(hctx, s.timeout)
	defer tcancel()
	tctx, em := withEmitter(tctx)
	tctx, effects := cutover.WithEffectLog(tctx)
	if err := s.limit.acquire(tctx); err != nil {
		return nil, nil, j.cause(hctx, fmt.Errorf("waiting for downstream slot: %w", err))
	}
	defer s.limit.release()
	began := time.Now()
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("handler panic: %v", r)
				j.log.Error("handler panicked", "panic", fmt.Sprint(r))
			}
		}()
		out, err = s.handler.Handle(tctx, j.ev)
	}()
	w.m.duration.WithLabelValues(j.ev.Workflow, j.ev.Step).Observe(time.Since(began).Seconds())
	if err != nil {
		return nil, nil, j.cause(hctx, err)
	}
	if out == nil {
		return nil, nil, cutover.Permanent(errors.New("handler returned no outcome and no error"))
	}
	if cause := context.Cause(hctx); errors.Is(cause, errLeaseLost) {
		return nil, nil, errLeaseLost
	}
	if out.At.IsZero() {
		out.At = w.now().UTC()
	}
	if out.Latency == 0 {
		out.Latency = cutover.Duration(time.Since(began))
	}
	out.Effects = append(out.Effects, effects()...)
	return out, em.children(j.ev, w.now()), nil
}

// cause prefers the reason the attempt's context ended, if it ended.
func (j *job) cause(hctx context.Context, err error) error {
	if c := context.Cause(hctx); errors.Is(c, errLeaseLost) {
		return errLeaseLost
	}
	return err
}

// heartbeat extends the message's visibility and the key's lease before half
// the visibility timeout has passed, for as long as the attempt runs. A
// fenced extension means a newer attempt took over: the attempt is cancelled.
// A timer, not a goroutine, waits for each beat: most attempts end long
// before the first one. stop waits for a beat under way.
func (j *job) heartbeat(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	w := j.s.w
	vis := w.cfg.Worker.Visibility.D()
	every := w.opt.HeartbeatEvery
	if every <= 0 {
		every = vis / 3
	}
	var mu sync.Mutex // held by a beat; stopped and t under it
	stopped := false
	var t *time.Timer
	beat := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || ctx.Err() != nil {
			return
		}
		if err := w.stores.Idempotency.ExtendLease(ctx, j.key, j.epoch, vis); err != nil {
			if errors.Is(err, cutover.ErrFenced) {
				cancel(errLeaseLost)
				return
			}
			j.log.Warn("lease extension failed", "err", err)
		}
		if err := w.stores.Queue.ChangeVisibility(ctx, j.s.queue, j.msg.Receipt, vis); err != nil && ctx.Err() == nil {
			j.log.Warn("visibility extension failed", "err", err)
		}
		t.Reset(every)
	}
	mu.Lock()
	t = time.AfterFunc(every, beat)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// retry schedules the next attempt after a backoff: the message becomes
// visible again when it ends, and the lease is released so that attempt can
// claim the key at once.
func (j *job) retry(ctx context.Context, cause error) {
	w := j.s.w
	delay := retryDelay(w.backoff, j.n, cause)
	t := j.transition(cutover.TransitionRetryScheduled, cause.Error())
	t.Delay = cutover.Duration(delay)
	if err := j.logEnd(ctx, notFinished, t); err != nil && !errors.Is(err, errMoot) {
		j.log.Error("cannot log retry", "err", err)
	}
	j.release(ctx)
	if err := w.stores.Queue.ChangeVisibility(ctx, j.s.queue, j.msg.Receipt, delay); err != nil {
		j.log.Warn("cannot schedule retry; it comes back after the visibility timeout", "err", err)
	}
	w.m.results.WithLabelValues(j.ev.Workflow, j.ev.Step, "retried").Inc()
	j.log.Info("attempt failed; retry scheduled", "attempt", j.n, "delay", delay.String(), "err", cause)
}

// deadLetter moves the event to the step's DLQ with its last error, records
// the failure as the async outcome, and acknowledges the delivery. pre, if
// set, is logged before the dead_lettered entry (e.g. the conflict).
func (j *job) deadLetter(ctx context.Context, cause error, pre cutover.Transition) {
	w, s := j.s.w, j.s
	msg := cutover.OutgoingMessage{ID: j.ev.ID, Body: j.msg.Body, Attributes: map[string]string{
		"cutover-error": truncate(cause.Error(), 1000), "cutover-attempts": strconv.Itoa(j.n), "cutover-step": s.ref.String(),
	}}
	if err := w.stores.Queue.Send(ctx, s.dlq, []cutover.OutgoingMessage{msg}); err != nil {
		j.log.Error("cannot dead-letter; the delivery will be retried", "err", err)
		return
	}
	if j.epoch > 0 {
		j.release(ctx) // a replay from the DLQ may claim the key again
	}
	if err := j.recordOutcome(ctx, &cutover.Outcome{Error: cause.Error(), At: w.now().UTC()}); err != nil {
		j.log.Error("cannot record failure outcome", "err", err)
	}
	var ts []cutover.Transition
	if pre.Kind != "" {
		pre.At, pre.Attempt, pre.Worker = w.now().UTC(), j.n, w.opt.ID
		ts = append(ts, pre)
	}
	ts = append(ts, j.transition(cutover.TransitionDeadLettered, cause.Error()))
	if err := j.logEnd(ctx, notFinished, ts...); err != nil && !errors.Is(err, errMoot) {
		j.log.Error("cannot log dead-letter", "err", err)
	}
	w.m.results.WithLabelValues(j.ev.Workflow, j.ev.Step, "dead_lettered").Inc()
	j.log.Warn("dead-lettered", "attempt", j.n, "err", cause)
	j.ack(ctx)
}

// fenced notes that a newer attempt owns the event; its result is dropped.
func (j *job) fenced(ctx context.Context) {
	w := j.s.w
	w.m.results.WithLabelValues(j.ev.Workflow, j.ev.Step, "fenced").Inc()
	j.log.Warn("lease lost: a newer attempt owns this event; result discarded", "attempt", j.n, "epoch", j.epoch)
	if err := j.logLatest(ctx, j.transition(cutover.TransitionFenced, fmt.Sprintf("epoch %d superseded", j.epoch))); err != nil {
		j.log.Error("cannot log fencing", "err", err)
	}
}

// releaseForShutdown hands an unfinished job back: the lease is released and
// the message made visible, so another worker takes it at once.
func (j *job) releaseForShutdown() {
	w := j.s.w
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	j.release(ctx)
	if err := w.stores.Queue.ChangeVisibility(ctx, j.s.queue, j.msg.Receipt, 0); err != nil {
		j.log.Warn("cannot release delivery; it comes back after the visibility timeout", "err", err)
	}
	if err := j.logLatest(ctx, j.transition(cutover.TransitionReleased, "worker shutting down")); err != nil {
		j.log.Warn("cannot log release", "err", err)
	}
	w.m.results.WithLabelValues(j.ev.Workflow, j.ev.Step, "released").Inc()
}

func (j *job) release(ctx context.Context) {
	if err := j.s.w.stores.Idempotency.Release(ctx, j.key, j.epoch); err != nil && !errors.Is(err, cutover.ErrFenced) {
		j.log.Warn("cannot release lease; it expires by itself", "err", err)
	}
}

// recordOutcome stores the async side of the respond step's outcome pair,
// and compares the pair when this write completed it.
func (j *job) recordOutcome(ctx context.Context, o *cutover.Outcome) error {
	pair, complete, err := j.putOutcome(ctx, o)
	if err != nil {
		return err
	}
	if complete {
		j.compare(ctx, pair)
	}
	return nil
}

// putOutcome stores the async side; complete says this write made the pair
// whole (and so this worker compares it).
func (j *job) putOutcome(ctx context.Context, o *cutover.Outcome) (cutover.OutcomePair, bool, error) {
	w := j.s.w
	if j.ev.Step != cutover.RespondStep || w.stores.Outcomes == nil || o == nil {
		return cutover.OutcomePair{}, false, nil
	}
	if j.deferred != nil && j.deferred.Legacy != nil {
		// The legacy side came with the message: it goes first, as it
		// would have been recorded when the event was published.
		_, _, err := w.stores.Outcomes.PutOutcome(ctx, j.ev.Workflow, j.ev.ID, j.ev.ReplayEpoch, cutover.SideLegacy, j.deferred.Legacy)
		if err != nil && !errors.Is(err, cutover.ErrAlreadyRecorded) {
			return cutover.OutcomePair{}, false, err
		}
	}
	pair, complete, err := w.stores.Outcomes.PutOutcome(ctx, j.ev.Workflow, j.ev.ID, j.ev.ReplayEpoch, cutover.SideAsync, o)
	if errors.Is(err, cutover.ErrAlreadyRecorded) {
		return pair, false, nil
	}
	return pair, complete, err
}

// compare hands a pair this worker completed to the comparator.
func (j *job) compare(ctx context.Context, pair cutover.OutcomePair) {
	w := j.s.w
	if w.opt.Pairs == nil {
		return
	}
	for try := 0; ; try++ {
		err := w.opt.Pairs.HandlePair(ctx, pair)
		if err == nil || try == 2 || ctx.Err() != nil {
			if err != nil {
				j.log.Error("comparison failed", "err", err)
			}
			return
		}
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
}

// ensureOutcome records, for a finished event whose delivery came back, the
// outcome its idempotency record holds, in case the attempt that finished
// it stopped before its outcome was stored. Usually it is there already.
func (j *job) ensureOutcome(ctx context.Context) error {
	if j.ev.Step != cutover.RespondStep || j.s.w.stores.Outcomes == nil || cutover.StateOf(j.elog.history) != cutover.StateSucceeded {
		return nil
	}
	rec, err := j.s.w.stores.Idempotency.IdempotencyRecord(ctx, j.key)
	if errors.Is(err, cutover.ErrNotFound) || (err == nil && !rec.Completed) {
		return nil
	}
	if err != nil {
		return err
	}
	return j.recordOutcome(ctx, rec.Outcome)
}

func (j *job) ack(ctx context.Context) {
	if j.s.acker != nil {
		j.s.acker.ack(j.msg.Receipt)
		j.acked = true
		return
	}
	if err := j.s.w.stores.Queue.Delete(ctx, j.s.queue, []string{j.msg.Receipt}); err != nil {
		j.log.Warn("cannot delete delivered message; it will be redelivered and acknowledged then", "err", err)
		return
	}
	j.acked = true
}

func (j *job) transition(kind cutover.TransitionKind, detail string) cutover.Transition {
	return cutover.Transition{Kind: kind, At: j.s.w.now().UTC(), Attempt: j.n, Epoch: j.epoch, Detail: truncate(detail, 1000), Worker: j.s.w.opt.ID}
}

// poison moves an undecodable message to the DLQ as it is.
func (s *stepRunner) poison(ctx context.Context, m cutover.Message, cause error) bool {
	w := s.w
	w.log.Error("undecodable message moved to the DLQ", "queue", s.queue, "message_id", m.ID, "err", cause)
	out := cutover.OutgoingMessage{ID: m.ID, Body: m.Body, Attributes: map[string]string{"cutover-error": truncate(cause.Error(), 1000), "cutover-step": s.ref.String()}}
	if err := w.stores.Queue.Send(ctx, s.dlq, []cutover.OutgoingMessage{out}); err != nil {
		w.log.Error("cannot dead-letter undecodable message", "err", err)
		return false
	}
	w.m.results.WithLabelValues(s.ref.Workflow, s.ref.Step, "dead_lettered").Inc()
	if err := w.stores.Queue.Delete(ctx, s.queue, []string{m.Receipt}); err != nil {
		w.log.Warn("cannot delete undecodable message", "err", err)
		return false
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// finishInSteps records a success with three calls: complete the key, then
// the outcome and the log's end together. It reports whether the delivery
// may be acknowledged.
func (j *job) finishInSteps(ctx context.Context, out *cutover.Outcome, ts []cutover.Transition) bool {
	w := j.s.w
	if cerr := w.stores.Idempotency.Complete(ctx, j.key, j.epoch, out); cerr != nil {
		if errors.Is(cerr, cutover.ErrFenced) {
			j.fenced(ctx)
			return false
		}
		j.log.Error("cannot complete; releasing for a retry", "err", cerr)
		j.release(ctx)
		return false
	}
	// The key is completed: the outcome and the log's end are written at
	// once, to share a commit. If one fails the delivery comes back; the
	// event is then finished or completed, and what is missing is written.
	var pair cutover.OutcomePair
	var complete bool
	var perr error
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		pair, complete, perr = j.putOutcome(ctx, out)
	}()
	lerr := j.logEnd(ctx, notFinished, ts...)
	<-wrote
	if perr != nil {
		j.log.Error("cannot record outcome; the delivery will be retried", "err", perr)
		return false
	}
	if lerr != nil && !errors.Is(lerr, errMoot) {
		j.log.Error("cannot log success; the delivery will be retried", "err", lerr)
		return false
	}
	if complete {
		j.compare(ctx, pair)
	}
	return true
}

// finishAtOnce records a success in one atomic write (cutover.Finisher):
// the key completed, the outcome recorded, the log's end appended, or
// nothing. It reports whether the delivery may be acknowledged.
func (j *job) finishAtOnce(ctx context.Context, f cutover.Finisher, out *cutover.Outcome, ts []cutover.Transition) bool {
	var pair *cutover.PairRef
	if j.ev.Step == cutover.RespondStep && j.s.w.stores.Outcomes != nil {
		pair = &cutover.PairRef{Workflow: j.ev.Workflow, EventID: j.ev.ID, Epoch: j.ev.ReplayEpoch}
	}
	for try := 0; ; try++ {
		j.logMu.Lock()
		all := j.withStart(ts)
		res, err := f.Finish(ctx, cutover.Finish{Key: j.key, Epoch: j.epoch, Outcome: out, Pair: pair, EventID: j.ev.ID, Expect: j.elog.version, Transitions: all, Start: j.deferred})
		if err == nil {
			j.written()
			j.elog.version = res.Version
			j.elog.history = append(j.elog.history, all...)
			j.logMu.Unlock()
			if res.Complete {
				j.compare(ctx, res.Pair)
			}
			return true
		}
		j.logMu.Unlock()
		switch {
		case errors.Is(err, cutover.ErrFenced):
			j.fenced(ctx)
			return false
		case errors.Is(err, cutover.ErrVersionConflict) && try < maxAppendTries:
			// Another writer appended meanwhile (nothing was written):
			// read the log again and finish after it.
			h, herr := j.s.w.stores.Transitions.History(ctx, j.ev.ID)
			if herr != nil {
				j.log.Error("cannot read the log to finish; releasing for a retry", "err", herr)
				j.release(ctx)
				return false
			}
			j.logMu.Lock()
			j.elog.history, j.elog.version = h, len(h)
			if len(h) > 0 {
				j.pre = nil // the event's start was written meanwhile
			}
			j.logMu.Unlock()
		default:
			j.log.Error("cannot record the success; releasing for a retry", "err", err)
			j.release(ctx)
			return false
		}
	}
}
