package backendtest

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

func testArchive(t *testing.T, s cutover.Stores) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, cutover.EventArchive)
	}{
		{"RoundTrip", archiveRoundTrip},
		{"ArchiveIsIdempotent", archiveIdempotent},
		{"NotFound", archiveNotFound},
		{"Query", archiveQuery},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s.Archive)
		})
	}
}

func newEvent(workflow, step, correlation string, at time.Time) *cutover.Event {
	return &cutover.Event{
		ID:             cutover.NewEventID(),
		Workflow:       workflow,
		Step:           step,
		Mode:           cutover.EventShadow,
		IdempotencyKey: uniq("key"),
		CorrelationID:  correlation,
		ReceivedAt:     at,
		Request: cutover.Request{
			Method: http.MethodPost,
			Path:   "/orders",
			Query:  "expand=items&x=1",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}},
			Body:   cutover.Body(`{"customer_id":"c-1","items":[{"sku":"s-1","qty":2}]}`),
		},
	}
}

func archiveRoundTrip(t *testing.T, a cutover.EventArchive) {
	ctx := testContext(t)
	wf := uniq("wf")
	plain := newEvent(wf, cutover.RespondStep, uniq("corr"), fixedTime())
	binary := newEvent(wf, cutover.RespondStep, uniq("corr"), fixedTime().Add(time.Second))
	binary.Mode = cutover.EventLive
	binary.Request.Body = cutover.Body{0x00, 0xff, 0xfe, 'a', 0x80}
	binary.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	binary.TraceState = "vendor=x"
	child := plain.Child("notify", cutover.ChildKey(plain, "notify", 0), cutover.Request{
		Method: http.MethodPut, Path: "/notify", BodyRef: cutover.BlobRef([]byte("big")), BodySize: 3,
	}, fixedTime().Add(2*time.Second))
	child.ReplayEpoch = 2
	evs := []*cutover.Event{plain, binary, child}
	if err := a.Archive(ctx, evs...); err != nil {
		t.Fatalf("Archive: %v", err)
	}
	for _, want := range evs {
		got, err := a.Event(ctx, want.ID)
		if err != nil {
			t.Fatalf("Event(%s): %v", want.ID, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("event %s (-want +got):\n%s", want.ID, diff)
		}
		if got.ReceivedAt.Location() != time.UTC {
			t.Errorf("event %s: ReceivedAt %v is not in UTC", want.ID, got.ReceivedAt)
		}
	}
}

func archiveIdempotent(t *testing.T, a cutover.EventArchive) {
	ctx := testContext(t)
	e := newEvent(uniq("wf"), cutover.RespondStep, uniq("corr"), fixedTime())
	if err := a.Archive(ctx, e); err != nil {
		t.Fatalf("Archive: %v", err)
	}
	again := *e
	again.Request.Body = cutover.Body(`{"changed":true}`)
	if err := a.Archive(ctx, &again); err != nil {
		t.Fatalf("Archive of an archived id: %v, want a no-op", err)
	}
	got, err := a.Event(ctx, e.ID)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("archiving an id again changed the event (-first +stored):\n%s", diff)
	}
	if err := a.Archive(ctx, e, e); err != nil {
		t.Fatalf("Archive of one id twice in a call: %v, want a no-op", err)
	}
	evs, err := a.Events(ctx, cutover.EventQuery{Workflow: e.Workflow})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(evs) != 1 {
		t.Errorf("workflow holds %d events after archiving one id three times, want 1", len(evs))
	}
}

func archiveNotFound(t *testing.T, a cutover.EventArchive) {
	_, err := a.Event(testContext(t), cutover.NewEventID())
	if !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("Event of an unknown id: %v, want ErrNotFound", err)
	}
}

func archiveQuery(t *testing.T, a cutover.EventArchive) {
	ctx := testContext(t)
	wf := uniq("wf")
	corr := []string{uniq("corr"), uniq("corr")}
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	steps := []string{cutover.RespondStep, "notify"}
	var evs []*cutover.Event
	for i := 0; i < 6; i++ {
		evs = append(evs, newEvent(wf, steps[i%2], corr[i/3], base.Add(time.Duration(i)*time.Minute)))
	}
	// Archive out of order, in two calls: order comes from the ids.
	if err := a.Archive(ctx, evs[3], evs[5], evs[1]); err != nil {
		t.Fatalf("Archive: %v", err)
	}
	if err := a.Archive(ctx, evs[4], evs[0], evs[2]); err != nil {
		t.Fatalf("Archive: %v", err)
	}
	slices.SortFunc(evs, func(x, y *cutover.Event) int { return strings.Compare(x.ID, y.ID) })
	pick := func(keep func(e *cutover.Event) bool) []string {
		var ids []string
		for _, e := range evs {
			if keep(e) {
				ids = append(ids, e.ID)
			}
		}
		return ids
	}
	all := pick(func(*cutover.Event) bool { return true })
	for _, tc := range []struct {
		name string
		q    cutover.EventQuery
		want []string
	}{
		{"workflow", cutover.EventQuery{Workflow: wf}, all},
		{"workflow and step", cutover.EventQuery{Workflow: wf, Step: "notify"},
			pick(func(e *cutover.Event) bool { return e.Step == "notify" })},
		{"correlation id", cutover.EventQuery{CorrelationID: corr[1]},
			pick(func(e *cutover.Event) bool { return e.CorrelationID == corr[1] })},
		{"time range is [since, until)", cutover.EventQuery{Workflow: wf, Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)},
			pick(func(e *cutover.Event) bool {
				return !e.ReceivedAt.Before(base.Add(time.Minute)) && e.ReceivedAt.Before(base.Add(3*time.Minute))
			})},
		{"limit", cutover.EventQuery{Workflow: wf, Limit: 2}, all[:2]},
		{"after id", cutover.EventQuery{Workflow: wf, AfterID: all[1], Limit: 3}, all[2:5]},
		{"after the last id", cutover.EventQuery{Workflow: wf, AfterID: all[5]}, nil},
	} {
		got, err := a.Events(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: Events: %v", tc.name, err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("%s: ids (-want +got):\n%s", tc.name, diff)
		}
	}

	// Paging with AfterID walks every event once, and pages hold whole events.
	var paged []*cutover.Event
	q := cutover.EventQuery{Workflow: wf, Limit: 4}
	for page := 0; page < 5; page++ {
		got, err := a.Events(ctx, q)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if len(got) == 0 {
			break
		}
		paged = append(paged, got...)
		q.AfterID = got[len(got)-1].ID
	}
	if diff := cmp.Diff(evs, paged); diff != "" {
		t.Errorf("paged events (-want +got):\n%s", diff)
	}
}
