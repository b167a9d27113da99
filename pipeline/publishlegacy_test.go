package pipeline

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

type pairLog struct {
	mu    sync.Mutex
	pairs []cutover.OutcomePair
}

func (l *pairLog) HandlePair(_ context.Context, p cutover.OutcomePair) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pairs = append(l.pairs, p)
	return nil
}

// PublishWithLegacy on a backend that records legacy sides apart from its
// archive (embedded): the publisher records them once the events are
// published, the worker completes the pairs, and a retried publish neither
// fails nor records twice.
func TestPublishWithLegacy(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", ""))
	pub := NewPublisher(e.cfg, PublisherStores{Queue: e.stores.Queue, Archive: e.stores.Archive, Transitions: e.stores.Transitions, Blobs: e.stores.Blobs, Outcomes: e.stores.Outcomes})
	ctx := context.Background()
	evs := []*cutover.Event{e.event("orders", "k-1", `{}`), e.event("orders", "k-2", `{}`)}
	legacy := []*cutover.Outcome{{Status: 201}, nil} // the second has no legacy side
	if pairs, err := pub.PublishWithLegacy(ctx, evs, legacy); err != nil || len(pairs) != 0 {
		t.Fatalf("PublishWithLegacy = %v, %v", pairs, err)
	}
	if p, err := e.stores.Outcomes.OutcomePair(ctx, evs[0].ID, 0); err != nil || p.Legacy == nil || p.Legacy.Status != 201 {
		t.Fatalf("pair after publishing: %+v, %v; want the legacy side", p, err)
	}
	if _, err := pub.PublishWithLegacy(ctx, evs, legacy[:1]); err == nil {
		t.Error("PublishWithLegacy with fewer outcomes than events: no error")
	}
	log := &pairLog{}
	h := HandlerFunc(func(context.Context, *cutover.Event) (*cutover.Outcome, error) {
		return &cutover.Outcome{Status: 200}, nil
	})
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}, Pairs: log})
	e.waitState(10*time.Second, evs[0].ID, evs[1].ID)
	if pairs, err := pub.PublishWithLegacy(ctx, evs[:1], legacy[:1]); err != nil || len(pairs) != 0 {
		t.Errorf("publishing again after the event ran = %v, %v; want nothing new to compare", pairs, err)
	}
	time.Sleep(200 * time.Millisecond)
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.pairs) != 1 || log.pairs[0].EventID != evs[0].ID || log.pairs[0].Legacy == nil || log.pairs[0].Async == nil {
		t.Errorf("compared pairs %+v; want the first event's, once, with both sides", log.pairs)
	}
}
