package aws

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cutover-dev/cutover"
)

// Archive implements cutover.EventArchive on S3 and DynamoDB. Archived
// events are buffered and written as one JSON-lines object per batch under
// events/YYYY/MM/DD/HH/; each event gets an index item, pk E#event, sk A,
// naming its object and byte range, its workflow, step, correlation id and
// receive time, indexed by gsi1 (EW#workflow / event) and gsi2
// (EC#correlation / event). Event is a GetItem and a ranged GET; Events is
// a Query and one GET per object touched. Archive returns once its events'
// object and index items are written (group commit: concurrent callers
// share an object).
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
	skArchive       = "A"
	attrStep        = "st"
	attrCorrelation = "co"
	attrReceived    = "at"
	attrObject      = "obj"
	attrOffset      = "off"
	attrLength      = "len"
	indexWriters    = 16 // concurrent index writes per flush
)

// archivedEvent is one encoded event waiting for its batch.
type archivedEvent struct {
	id, workflow, step, correlation string
	receivedAt                      int64
	line                            []byte
}

type archiveReq struct {
	evs  []archivedEvent
	done chan error
}

func newArchive(table *Table, bucket *Bucket, o Options) *Archive {
	return &Archive{table: table, bucket: bucket, maxEvents: o.ArchiveMaxEvents, maxDelay: o.ArchiveMaxDelay, timeout: 2 * time.Minute}
}

var _ cutover.EventArchive = (*Archive)(nil)

// Archive stores events; an id stored before is left as it is. It returns
// when the events are durable.
func (a *Archive) Archive(ctx context.Context, evs ...*cutover.Event) error {
	if len(evs) == 0 {
		return nil
	}
	req := &archiveReq{evs: make([]archivedEvent, 0, len(evs)), done: make(chan error, 1)}
	for _, e := range evs {
		if e == nil {
			return fmt.Errorf("aws: archive: nil event")
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("aws: archive %s: %w", e.ID, err)
		}
		c := *e
		c.ReceivedAt = c.ReceivedAt.UTC()
		line, err := cutover.EncodeEvent(&c)
		if err != nil {
			return fmt.Errorf("aws: archive: %w", err)
		}
		req.evs = append(req.evs, archivedEvent{id: c.ID, workflow: c.Workflow, step: c.Step, correlation: c.CorrelationID,
			receivedAt: c.ReceivedAt.UnixNano(), line: line})
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return fmt.Errorf("aws: archive: %w", errClosed)
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
	case err := <-req.done:
		if err != nil {
			return fmt.Errorf("aws: archive: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("aws: archive: %w", ctx.Err())
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
		err := a.flush(ctx, batch)
		for _, r := range batch {
			r.done <- err
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

// flush writes one batch: the object first, then the index items, so an
// index item never points at a missing object.
func (a *Archive) flush(ctx context.Context, batch []*archiveReq) error {
	seen := map[string]bool{}
	var evs []archivedEvent
	for _, r := range batch {
		for _, e := range r.evs {
			if !seen[e.id] {
				seen[e.id] = true
				evs = append(evs, e)
			}
		}
	}
	var buf bytes.Buffer
	offsets := make([]int, len(evs))
	for i, e := range evs {
		offsets[i] = buf.Len()
		buf.Write(e.line)
		buf.WriteByte('\n')
	}
	now := time.Now().UTC()
	obj := archivePrefix + now.Format("2006/01/02/15/") + evs[0].id + "-" + newToken() + ".jsonl"
	if err := a.bucket.put(ctx, obj, buf.Bytes(), "application/x-ndjson"); err != nil {
		return fmt.Errorf("object %s: %w", obj, err)
	}
	workflows := map[string]bool{}
	for _, e := range evs {
		if !workflows[e.workflow] {
			workflows[e.workflow] = true
			if err := a.table.register(ctx, regEvents, e.workflow); err != nil {
				return err
			}
		}
	}
	// Conditional puts: the first archived copy of an id stays.
	errs := make(chan error, len(evs))
	sem := make(chan struct{}, indexWriters)
	var wg sync.WaitGroup
	for i, e := range evs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs <- a.index(ctx, e, obj, offsets[i], now)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *Archive) index(ctx context.Context, e archivedEvent, obj string, off int, now time.Time) error {
	t := a.table
	it := key(eventPK(e.id), skArchive)
	it[attrWorkflow] = avS(e.workflow)
	it[attrStep] = avS(e.step)
	it[attrCorrelation] = avS(e.correlation)
	it[attrReceived] = avN(e.receivedAt)
	it[attrObject] = avS(obj)
	it[attrOffset] = avN(int64(off))
	it[attrLength] = avN(int64(len(e.line)))
	it[attrG1PK] = avS("EW#" + esc(e.workflow))
	it[attrG1SK] = avS(e.id)
	it[attrG2PK] = avS("EC#" + esc(e.correlation))
	it[attrG2SK] = avS(e.id)
	it[attrTTL] = t.ttl(now)
	x := newExpr()
	_, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &t.name, Item: it,
		ConditionExpression: ptr("attribute_not_exists(" + x.n(attrPK) + ")"), ExpressionAttributeNames: x.attrNames(),
	})
	if _, archived := conditionFailed(err); err != nil && !archived {
		return fmt.Errorf("index %s: %w", e.id, classified(err))
	}
	return nil
}

// Event returns the archived event id, or ErrNotFound.
func (a *Archive) Event(ctx context.Context, id string) (*cutover.Event, error) {
	it, err := a.table.get(ctx, eventPK(id), skArchive)
	if err == nil && it == nil {
		err = cutover.ErrNotFound
	}
	var data []byte
	if err == nil {
		off, n := it.n(attrOffset), it.n(attrLength)
		data, err = a.bucket.get(ctx, it.s(attrObject), fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	var e *cutover.Event
	if err == nil {
		e, err = cutover.DecodeEvent(bytes.TrimSpace(data))
	}
	if err != nil {
		return nil, fmt.Errorf("aws: event %s: %w", id, err)
	}
	return e, nil
}

// Events returns the archived events q selects, ordered by id. ReceivedAt
// is filtered on [Since, Until). A correlation id is looked up in gsi2, a
// workflow in gsi1; without either, every workflow that has events is.
func (a *Archive) Events(ctx context.Context, q cutover.EventQuery) ([]*cutover.Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultMax
	}
	type lookup struct{ index, pkAttr, skAttr, pk string }
	var lookups []lookup
	switch {
	case q.CorrelationID != "":
		lookups = []lookup{{indexGSI2, attrG2PK, attrG2SK, "EC#" + esc(q.CorrelationID)}}
	case q.Workflow != "":
		lookups = []lookup{{indexGSI1, attrG1PK, attrG1SK, "EW#" + esc(q.Workflow)}}
	default:
		wfs, err := a.table.workflows(ctx, regEvents)
		if err != nil {
			return nil, fmt.Errorf("aws: events: %w", err)
		}
		for _, wf := range wfs {
			lookups = append(lookups, lookup{indexGSI1, attrG1PK, attrG1SK, "EW#" + esc(wf)})
		}
	}
	var refs []indexRef
	for _, l := range lookups {
		e := newExpr()
		kc := e.n(l.pkAttr) + " = " + e.v(avS(l.pk))
		if q.AfterID != "" {
			kc += " AND " + e.n(l.skAttr) + " > " + e.v(avS(q.AfterID))
		}
		var filters []string
		if q.CorrelationID != "" && q.Workflow != "" {
			filters = append(filters, e.n(attrWorkflow)+" = "+e.v(avS(q.Workflow)))
		}
		if q.Step != "" {
			filters = append(filters, e.n(attrStep)+" = "+e.v(avS(q.Step)))
		}
		if !q.Since.IsZero() {
			filters = append(filters, e.n(attrReceived)+" >= "+e.v(avN(q.Since.UnixNano())))
		}
		if !q.Until.IsZero() {
			filters = append(filters, e.n(attrReceived)+" < "+e.v(avN(q.Until.UnixNano())))
		}
		skAttr := l.skAttr
		got, err := a.table.indexQuery(ctx, l.index, kc, filters, e, limit, func(it item) indexRef {
			return indexRef{id: it.s(skAttr), it: it}
		})
		if err != nil {
			return nil, fmt.Errorf("aws: events: %w", err)
		}
		refs = append(refs, got...)
	}
	refs = firstRefs(refs, limit)
	evs, err := a.fetch(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("aws: events: %w", err)
	}
	return evs, nil
}

// fetch reads the events refs point at with one ranged GET per object, in
// the order of refs.
func (a *Archive) fetch(ctx context.Context, refs []indexRef) ([]*cutover.Event, error) {
	type span struct{ lo, hi int64 }
	spans := map[string]*span{}
	var objs []string
	for _, r := range refs {
		obj, off, n := r.it.s(attrObject), r.it.n(attrOffset), r.it.n(attrLength)
		s, ok := spans[obj]
		if !ok {
			s = &span{lo: off, hi: off + n}
			spans[obj] = s
			objs = append(objs, obj)
		}
		s.lo, s.hi = min(s.lo, off), max(s.hi, off+n)
	}
	sort.Strings(objs)
	data := map[string][]byte{}
	for _, obj := range objs {
		s := spans[obj]
		b, err := a.bucket.get(ctx, obj, "bytes="+strconv.FormatInt(s.lo, 10)+"-"+strconv.FormatInt(s.hi-1, 10))
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", obj, err)
		}
		data[obj] = b
	}
	out := make([]*cutover.Event, 0, len(refs))
	for _, r := range refs {
		obj, off, n := r.it.s(attrObject), r.it.n(attrOffset), r.it.n(attrLength)
		b, lo := data[obj], spans[obj].lo
		if off-lo < 0 || off-lo+n > int64(len(b)) {
			return nil, fmt.Errorf("event %s: object %s is shorter than its index says", r.id, obj)
		}
		e, err := cutover.DecodeEvent(bytes.TrimSpace(b[off-lo : off-lo+n]))
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", r.id, err)
		}
		out = append(out, e)
	}
	return out, nil
}
