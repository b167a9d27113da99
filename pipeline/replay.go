package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cutover-dev/cutover"
)

// ReplayStores is what replaying needs from a backend.
type ReplayStores struct {
	Queue       cutover.Queue
	Archive     cutover.EventArchive
	Transitions cutover.TransitionLog
	Outcomes    cutover.OutcomeStore
	Comparisons interface {
		Comparisons(ctx context.Context, q cutover.ComparisonQuery) ([]*cutover.Comparison, error)
	}
}

// ReplayRequest selects the events to re-publish.
type ReplayRequest struct {
	Workflow string
	// Verdict keeps events whose latest comparison has this verdict.
	Verdict cutover.Verdict
	// DLQ takes the events waiting in the workflow's dead-letter queues
	// (and removes them from there once re-published).
	DLQ          bool
	Since, Until time.Time
	// Live replays with real effects; completed keys return their stored
	// outcome. The default is shadow: a fresh run per replay epoch.
	Live   bool
	DryRun bool
	Limit  int // 0: no limit
	// Progress, if set, is called after each published batch.
	Progress func(done, total int)
}

// ReplayResult says what a replay selected and published.
type ReplayResult struct {
	Selected  int            `json:"selected"`
	Published int            `json:"published"`
	ByEpoch   map[int]int    `json:"by_epoch"` // events per new epoch
	ByStep    map[string]int `json:"by_step"`
	IDs       []string       `json:"ids"`
	DryRun    bool           `json:"dry_run"`
}

// Replayer re-publishes chosen events as a new replay epoch: each gets a new
// comparison keyed by (event, epoch), so a report shows before and after.
type Replayer struct {
	cfg    *cutover.Config
	stores ReplayStores
	pub    *Publisher
	now    func() time.Time
}

// NewReplayer returns a Replayer that publishes through pub.
func NewReplayer(cfg *cutover.Config, stores ReplayStores, pub *Publisher) *Replayer {
	return &Replayer{cfg: cfg, stores: stores, pub: pub, now: time.Now}
}

// replayItem is one event to replay and, for DLQ items, its receipt.
type replayItem struct {
	ev      *cutover.Event
	queue   string
	receipt string
}

// Replay selects and (unless DryRun) re-publishes events.
func (r *Replayer) Replay(ctx context.Context, req ReplayRequest) (ReplayResult, error) {
	w, ok := r.cfg.Workflow(req.Workflow)
	if !ok {
		return ReplayResult{}, fmt.Errorf("replay: unknown workflow %q (known: %s)", req.Workflow, knownWorkflows(r.cfg))
	}
	if req.Verdict != "" && !req.Verdict.Valid() {
		return ReplayResult{}, fmt.Errorf("replay: unknown verdict %q", req.Verdict)
	}
	var items []replayItem
	var err error
	if req.DLQ {
		items, err = r.fromDLQ(ctx, w, req)
	} else {
		items, err = r.fromArchive(ctx, req)
	}
	if err != nil {
		return ReplayResult{}, err
	}
	res := ReplayResult{Selected: len(items), ByEpoch: map[int]int{}, ByStep: map[string]int{}, DryRun: req.DryRun}
	batch := make([]*cutover.Event, 0, 100)
	var receipts []replayItem
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := r.pub.Publish(ctx, batch...); err != nil {
			return fmt.Errorf("replay: publish: %w", err)
		}
		for _, it := range receipts {
			if err := r.stores.Queue.Delete(ctx, it.queue, []string{it.receipt}); err != nil {
				return fmt.Errorf("replay: remove %s from %s: %w", it.ev.ID, it.queue, err)
			}
		}
		res.Published += len(batch)
		if req.Progress != nil {
			req.Progress(res.Published, res.Selected)
		}
		batch, receipts = batch[:0], receipts[:0]
		return nil
	}
	for _, it := range items {
		ev, err := r.prepare(ctx, it.ev, req.Live)
		if err != nil {
			return res, err
		}
		res.IDs = append(res.IDs, ev.ID)
		res.ByEpoch[ev.ReplayEpoch]++
		res.ByStep[ev.Step]++
		if req.DryRun {
			continue
		}
		batch = append(batch, ev)
		if it.receipt != "" {
			receipts = append(receipts, it)
		}
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if !req.DryRun {
		if err := flush(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// prepare returns the replay copy of ev: the next epoch, the chosen mode,
// and for the respond step the legacy side of the new pair copied from the
// original, so the comparator diffs the new async outcome against it.
func (r *Replayer) prepare(ctx context.Context, orig *cutover.Event, live bool) (*cutover.Event, error) {
	h, err := r.stores.Transitions.History(ctx, orig.ID)
	if err != nil {
		return nil, fmt.Errorf("replay: %s: history: %w", orig.ID, err)
	}
	ev := *orig
	ev.ReplayEpoch = 1
	for _, t := range h {
		if t.Kind == cutover.TransitionReplayed {
			ev.ReplayEpoch++
		}
	}
	ev.Mode = cutover.EventShadow
	if live {
		ev.Mode = cutover.EventLive
	}
	if ev.Step != cutover.RespondStep {
		return &ev, nil
	}
	legacy := &cutover.Outcome{Skipped: "replayed live: legacy not called", At: r.now().UTC()}
	if !live {
		pair, err := r.stores.Outcomes.OutcomePair(ctx, ev.ID, 0)
		switch {
		case err == nil && pair.Legacy != nil:
			legacy = pair.Legacy
		case err == nil || errors.Is(err, cutover.ErrNotFound):
			legacy = &cutover.Outcome{Skipped: "no legacy outcome was recorded for the original", At: r.now().UTC()}
		default:
			return nil, fmt.Errorf("replay: %s: legacy outcome: %w", ev.ID, err)
		}
	}
	_, _, err = r.stores.Outcomes.PutOutcome(ctx, ev.Workflow, ev.ID, ev.ReplayEpoch, cutover.SideLegacy, legacy)
	if err != nil && !errors.Is(err, cutover.ErrAlreadyRecorded) {
		return nil, fmt.Errorf("replay: %s: %w", ev.ID, err)
	}
	return &ev, nil
}

// fromArchive selects intake events of the workflow by time, and by the
// verdict of their latest comparison when asked.
func (r *Replayer) fromArchive(ctx context.Context, req ReplayRequest) ([]replayItem, error) {
	var latest map[string]cutover.Verdict
	if req.Verdict != "" {
		var err error
		if latest, err = r.latestVerdicts(ctx, req); err != nil {
			return nil, err
		}
	}
	var out []replayItem
	q := cutover.EventQuery{Workflow: req.Workflow, Step: cutover.RespondStep, Since: req.Since, Until: req.Until, Limit: 500}
	for {
		evs, err := r.stores.Archive.Events(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("replay: list events: %w", err)
		}
		for _, ev := range evs {
			if ev.CausationID != "" {
				continue
			}
			if latest != nil && latest[ev.ID] != req.Verdict {
				continue
			}
			out = append(out, replayItem{ev: ev})
			if req.Limit > 0 && len(out) >= req.Limit {
				return out, nil
			}
		}
		if len(evs) < q.Limit {
			return out, nil
		}
		q.AfterID = evs[len(evs)-1].ID
	}
}

// latestVerdicts maps each event compared in the window to the verdict of
// its latest epoch: a replay that fixed a mismatch supersedes it.
func (r *Replayer) latestVerdicts(ctx context.Context, req ReplayRequest) (map[string]cutover.Verdict, error) {
	type v struct {
		epoch   int
		verdict cutover.Verdict
	}
	best := map[string]v{}
	q := cutover.ComparisonQuery{Workflow: req.Workflow, Epoch: -1, Limit: 1000}
	for {
		cs, err := r.stores.Comparisons.Comparisons(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("replay: list comparisons: %w", err)
		}
		for _, c := range cs {
			if b, ok := best[c.EventID]; !ok || c.Epoch > b.epoch {
				best[c.EventID] = v{c.Epoch, c.Verdict}
			}
		}
		if len(cs) < q.Limit {
			break
		}
		q.AfterID = cs[len(cs)-1].EventID
	}
	out := make(map[string]cutover.Verdict, len(best))
	for id, b := range best {
		out[id] = b.verdict
	}
	return out, nil
}

// fromDLQ drains the workflow's dead-letter queues into items; each stays
// invisible (not deleted) until its replay is published.
func (r *Replayer) fromDLQ(ctx context.Context, w *cutover.WorkflowConfig, req ReplayRequest) ([]replayItem, error) {
	var out []replayItem
	hide := 15 * time.Minute // long enough to publish; after a crash they return
	if req.DryRun {
		hide = time.Second
	}
	for _, step := range w.StepNames() {
		q := cutover.DeadLetterName(w.Name, step)
		for {
			msgs, err := r.stores.Queue.Receive(ctx, q, cutover.ReceiveOptions{Max: 10, Visibility: hide})
			if err != nil {
				return nil, fmt.Errorf("replay: read %s: %w", q, err)
			}
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				ev, err := cutover.DecodeEvent(m.Body)
				if err != nil {
					return nil, fmt.Errorf("replay: %s holds an undecodable message %s: %w", q, m.ID, err)
				}
				if (!req.Since.IsZero() && ev.ReceivedAt.Before(req.Since)) || (!req.Until.IsZero() && !ev.ReceivedAt.Before(req.Until)) {
					continue
				}
				out = append(out, replayItem{ev: ev, queue: q, receipt: m.Receipt})
			}
			if req.Limit > 0 && len(out) >= req.Limit {
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ev.ID < out[j].ev.ID })
	if req.Limit > 0 && len(out) > req.Limit {
		for _, it := range out[req.Limit:] { // not replayed now: back to the DLQ
			if err := r.stores.Queue.ChangeVisibility(ctx, it.queue, it.receipt, 0); err != nil && !errors.Is(err, cutover.ErrStaleReceipt) {
				return nil, fmt.Errorf("replay: return %s to %s: %w", it.ev.ID, it.queue, err)
			}
		}
		out = out[:req.Limit]
	}
	return out, nil
}
