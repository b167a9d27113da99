package aws

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cutover-dev/cutover"
)

// Event returns the archived event id, or ErrNotFound. An event whose
// item has no pointer yet (archived deferred, not run) is looked up in the
// object index instead: by the time in its id when it is a UUIDv7.
func (a *Archive) Event(ctx context.Context, id string) (*cutover.Event, error) {
	e, err := a.event(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("aws: event %s: %w", id, err)
	}
	return e, nil
}

func (a *Archive) event(ctx context.Context, id string) (*cutover.Event, error) {
	it, err := a.table.get(ctx, eventPK(id), skLog)
	if err != nil {
		return nil, err
	}
	if it == nil || !it.has(attrObject) {
		return a.findEvent(ctx, id)
	}
	off, n := it.n(attrOffset), it.n(attrLength)
	data, err := a.bucket.get(ctx, it.s(attrObject), fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	if err != nil {
		return nil, err
	}
	return cutover.DecodeEvent(bytes.TrimSpace(data))
}

// findEvent looks an event up in the objects whose id range holds it.
func (a *Archive) findEvent(ctx context.Context, id string) (*cutover.Event, error) {
	var q cutover.EventQuery
	if at, ok := cutover.EventIDTime(id); ok {
		q.Since, q.Until = at.Add(-time.Minute), at.Add(time.Hour)
	}
	refs, err := a.objects(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if id < r.lo || id > r.hi {
			continue
		}
		data, err := a.bucket.get(ctx, r.obj, "")
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", r.obj, err)
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			if bytes.Contains(line, []byte(`"id":"`+id+`"`)) && !bytes.HasPrefix(line, []byte(legacyPrefix)) {
				if e, err := cutover.DecodeEvent(line); err == nil && e.ID == id {
					return e, nil
				}
			}
		}
	}
	return nil, cutover.ErrNotFound
}

// objectRef is one object index item read back.
type objectRef struct {
	obj            string
	lo, hi         string
	atLo, atHi     int64
	archived       int64
	correlations   bloom
	correlationSet bool
}

// Events returns the archived events q selects, ordered by id. ReceivedAt
// is filtered on [Since, Until). It reads the object index of every day in
// the retention window (a Query per day, filtered on the workflow), then,
// in order of their lowest id, the objects that may hold a match, until
// the first Limit matches are known.
func (a *Archive) Events(ctx context.Context, q cutover.EventQuery) ([]*cutover.Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultMax
	}
	refs, err := a.objects(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("aws: events: %w", err)
	}
	type found struct {
		ev       *cutover.Event
		archived int64
	}
	byID := map[string]found{}
	var ids []string
	for _, r := range refs {
		if len(ids) >= limit {
			sort.Strings(ids)
			ids = ids[:limit]
			if r.lo > ids[limit-1] {
				break // every later object starts after the last match kept
			}
		}
		data, err := a.bucket.get(ctx, r.obj, "")
		if err != nil {
			return nil, fmt.Errorf("aws: events: object %s: %w", r.obj, err)
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 || bytes.HasPrefix(line, []byte(legacyPrefix)) {
				continue
			}
			e, err := cutover.DecodeEvent(line)
			if err != nil {
				return nil, fmt.Errorf("aws: events: object %s: %w", r.obj, err)
			}
			if !matches(e, q) {
				continue
			}
			// An id archived again keeps its first copy.
			if f, ok := byID[e.ID]; ok {
				if f.archived > r.archived {
					byID[e.ID] = found{e, r.archived}
				}
				continue
			}
			byID[e.ID] = found{e, r.archived}
			ids = append(ids, e.ID)
		}
	}
	sort.Strings(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]*cutover.Event, len(ids))
	for i, id := range ids {
		out[i] = byID[id].ev
	}
	return out, nil
}

// matches reports whether e passes q's filters.
func matches(e *cutover.Event, q cutover.EventQuery) bool {
	switch {
	case q.Workflow != "" && e.Workflow != q.Workflow,
		q.Step != "" && e.Step != q.Step,
		q.CorrelationID != "" && e.CorrelationID != q.CorrelationID,
		q.AfterID != "" && e.ID <= q.AfterID,
		!q.Since.IsZero() && e.ReceivedAt.Before(q.Since),
		!q.Until.IsZero() && !e.ReceivedAt.Before(q.Until):
		return false
	}
	return true
}

// objects lists the objects that may hold events q selects, by lowest id.
func (a *Archive) objects(ctx context.Context, q cutover.EventQuery) ([]objectRef, error) {
	now := time.Now().UTC()
	from := now.Add(-a.table.retention - 24*time.Hour)
	if !q.Since.IsZero() && q.Since.Add(-24*time.Hour).After(from) {
		// An event is archived after it is received, never before.
		from = q.Since.Add(-24 * time.Hour)
	}
	var refs []objectRef
	for day := from; !day.After(now.Add(24 * time.Hour)); day = day.Add(24 * time.Hour) {
		e := newExpr()
		in := &dynamodb.QueryInput{
			KeyConditionExpression:   ptr(e.n(attrPK) + " = " + e.v(avS(pkObjectIndex+day.Format(dayLayout)))),
			ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
		}
		if q.Workflow != "" {
			in.FilterExpression = ptr("contains(" + e.n(attrWorkflows) + ", " + e.v(avS(q.Workflow)) + ")")
			in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.attrNames(), e.attrValues()
		}
		err := a.table.query(ctx, in, func(it item) bool {
			r := objectRef{obj: it.s(attrObject), lo: it.s(attrLowID), hi: it.s(attrHighID),
				atLo: it.n(attrLowAt), atHi: it.n(attrHighAt), archived: it.n(attrArchived)}
			if b, ok := it[attrBloom].(*types.AttributeValueMemberB); ok {
				r.correlations, r.correlationSet = b.Value, true
			}
			switch {
			case q.AfterID != "" && r.hi <= q.AfterID,
				!q.Since.IsZero() && r.atHi < q.Since.UnixNano(),
				!q.Until.IsZero() && r.atLo >= q.Until.UnixNano(),
				q.CorrelationID != "" && r.correlationSet && !r.correlations.mayHave(q.CorrelationID):
				return true
			}
			refs = append(refs, r)
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("object index %s: %w", day.Format(dayLayout), err)
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].lo < refs[j].lo })
	return refs, nil
}
