package aws

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cutover-dev/cutover"
)

// Archive implements cutover.EventArchive and cutover.Registrar on S3 and
// DynamoDB. Archived events are buffered and written as one JSON-lines
// object per batch under events/YYYY/MM/DD/HH/ (group commit: concurrent
// callers share an object). Then, per object, one index item (pk AX#day,
// archiveindex.go) says which workflows it holds, its range of ids and
// receive times, and a Bloom filter of its correlation ids; and per event
// one update of the event item records where the event is (its object and
// byte range), with entry 1 of its log and the legacy side of its pair
// when it is registered rather than only archived. An event therefore costs
// one write unit to start, where an index item with two index entries, a
// log write and an outcome write cost five. Event is a GetItem and a ranged
// GET; Events reads the object index of the retention window and the
// objects that may match.
type Archive struct {
	table     *Table
	bucket    *Bucket
	maxEvents int
	maxDelay  time.Duration
	timeout   time.Duration

	mu      sync.Mutex
	pending []*archiveReq
	count   int
	timer   *time.Timer
	gen     uint64
	closed  bool
	flushes sync.WaitGroup
}

const (
	attrStep        = "st"
	attrCorrelation = "co"
	attrReceived    = "at"
	attrObject      = "obj"
	attrOffset      = "off"
	attrLength      = "len"
	indexWriters    = 16 // concurrent event item writes per flush
)

// archivedEvent is one encoded event waiting for its batch, with what its
// registration adds.
type archivedEvent struct {
	id, workflow, step, correlation string
	receivedAt                      int64
	epoch                           int
	line                            []byte
	first                           *cutover.Transition
	legacy                          *cutover.Outcome
	deferred                        bool // no event item write: see ArchiveDeferred
}

type archiveReq struct {
	evs  []archivedEvent
	done chan archiveResult
}

type archiveResult struct {
	pairs []cutover.OutcomePair // completed by a registered legacy side
	refs  map[string]string     // deferred events' archive references
	err   error
}

// archiveMode is what an archive call writes besides the object.
type archiveMode int

const (
	modeArchive  archiveMode = iota // the event item's pointer
	modeRegister                    // and entry 1 of the log, and the legacy side
	modeDeferred                    // nothing per event: the legacy side goes in the object
)

func newArchive(table *Table, bucket *Bucket, o Options) *Archive {
	return &Archive{table: table, bucket: bucket, maxEvents: o.ArchiveMaxEvents, maxDelay: o.ArchiveMaxDelay, timeout: 2 * time.Minute}
}

var (
	_ cutover.EventArchive  = (*Archive)(nil)
	_ cutover.Registrar     = (*Archive)(nil)
	_ cutover.StartDeferrer = (*Archive)(nil)
)

// Archive stores events; an id stored before is left as it is. It returns
// when the events are durable.
func (a *Archive) Archive(ctx context.Context, evs ...*cutover.Event) error {
	regs := make([]cutover.Registration, len(evs))
	for i, e := range evs {
		regs[i].Event = e
	}
	if _, err := a.add(ctx, regs, modeArchive); err != nil {
		return fmt.Errorf("aws: archive: %w", err)
	}
	return nil
}

// ArchiveDeferred archives the events with no write per event: each legacy
// side is a line of the object after its event's, for the sweeper; the
// event item gets its pointer and legacy side with the event's first
// finish (cutover.Finish.Start), its log with its first log write. The
// object's index item counts its legacy sides, which is how Unpaired finds
// the events that never finish.
func (a *Archive) ArchiveDeferred(ctx context.Context, regs []cutover.Registration) (map[string]string, error) {
	res, err := a.add(ctx, regs, modeDeferred)
	if err != nil {
		return nil, fmt.Errorf("aws: archive deferred: %w", err)
	}
	return res.refs, nil
}

// Register archives the events, starts their logs and records the legacy
// sides given, one write per event. See cutover.Registrar.
func (a *Archive) Register(ctx context.Context, regs []cutover.Registration) ([]cutover.OutcomePair, error) {
	res, err := a.add(ctx, regs, modeRegister)
	if err != nil {
		return nil, fmt.Errorf("aws: register: %w", err)
	}
	return res.pairs, nil
}

func (a *Archive) add(ctx context.Context, regs []cutover.Registration, mode archiveMode) (archiveResult, error) {
	if len(regs) == 0 {
		return archiveResult{}, nil
	}
	req := &archiveReq{evs: make([]archivedEvent, 0, len(regs)), done: make(chan archiveResult, 1)}
	for _, r := range regs {
		e := r.Event
		if e == nil {
			return archiveResult{}, fmt.Errorf("nil event")
		}
		if err := e.Validate(); err != nil {
			return archiveResult{}, fmt.Errorf("%s: %w", e.ID, err)
		}
		c := *e
		c.ReceivedAt = c.ReceivedAt.UTC()
		line := r.Encoded
		if line == nil {
			var err error
			if line, err = cutover.EncodeEvent(&c); err != nil {
				return archiveResult{}, err
			}
		}
		ae := archivedEvent{id: c.ID, workflow: c.Workflow, step: c.Step, correlation: c.CorrelationID,
			receivedAt: c.ReceivedAt.UnixNano(), epoch: c.ReplayEpoch, line: line}
		switch mode {
		case modeRegister:
			if r.First.Kind != "" {
				first := r.First
				ae.first = &first
			}
			ae.legacy = r.Legacy
		case modeDeferred:
			ae.legacy, ae.deferred = r.Legacy, true
		}
		req.evs = append(req.evs, ae)
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return archiveResult{}, errClosed
	}
	a.pending = append(a.pending, req)
	a.count += len(req.evs)
	if a.count >= a.maxEvents {
		a.cutLocked()
	} else if a.timer == nil {
		gen := a.gen
		a.timer = time.AfterFunc(a.maxDelay, func() { a.expire(gen) })
	}
	a.mu.Unlock()
	select {
	case res := <-req.done:
		return res, res.err
	case <-ctx.Done():
		return archiveResult{}, ctx.Err()
	}
}

func (a *Archive) expire(gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen == gen && len(a.pending) > 0 {
		a.cutLocked()
	}
}

func (a *Archive) cutLocked() {
	batch := a.pending
	a.pending, a.count = nil, 0
	a.gen++
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	a.flushes.Add(1)
	go func() {
		defer a.flushes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		defer cancel()
		results := a.flush(ctx, batch)
		for i, r := range batch {
			r.done <- results[i]
		}
	}()
}

// close writes what is buffered and waits for every flush.
func (a *Archive) close() {
	a.mu.Lock()
	a.closed = true
	if len(a.pending) > 0 {
		a.cutLocked()
	}
	a.mu.Unlock()
	a.flushes.Wait()
}
