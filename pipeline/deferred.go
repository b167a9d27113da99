package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cutover-dev/cutover"
)

// Shadow events are published with their start deferred when the backend
// can (cutover.StartDeferrer): archived with no write of their own, their
// archive reference and legacy side travel with their messages, and the
// worker writes them with the event's first log write and finish. Nobody
// reads a shadow event's log or pair before it runs, so this saves one
// write per event on the proxy's busiest path; the sweeper finds, in the
// archive, the events that never run.

// Message attributes of an event published with its start deferred.
const (
	attrStart     = "cutover-start"      // the archive reference
	attrLegacy    = "cutover-legacy"     // the legacy side, JSON
	attrLegacyRef = "cutover-legacy-ref" // or its blob, when large
	// legacyInline bounds the legacy side carried in the message itself;
	// a larger one goes by blob reference, like a large request body.
	legacyInline = 16 << 10
)

// shadowIntake reports whether evs are all original shadow intake events:
// the events whose start can be deferred.
func shadowIntake(evs []*cutover.Event) bool {
	for _, ev := range evs {
		if ev.Mode != cutover.EventShadow || ev.ReplayEpoch != 0 {
			return false
		}
	}
	return true
}

// deferStart archives the events with their start deferred and returns the
// message attributes that carry it, by event id.
func (p *Publisher) deferStart(ctx context.Context, d cutover.StartDeferrer, all []*cutover.Event, regs []cutover.Registration, legacy map[string]*cutover.Outcome) (map[string]map[string]string, error) {
	refs, err := d.ArchiveDeferred(ctx, regs)
	if err != nil {
		return nil, fmt.Errorf("pipeline: publish: archive: %w: %w", cutover.ErrNotPublished, err)
	}
	attrs := make(map[string]map[string]string, len(all))
	for _, ev := range all {
		ref := refs[ev.ID]
		if ref == "" {
			return nil, fmt.Errorf("pipeline: publish: archive returned no reference for %s: %w", ev.ID, cutover.ErrNotPublished)
		}
		a := map[string]string{attrStart: ref}
		if o := legacy[ev.ID]; o != nil {
			data, err := cutover.EncodeOutcome(o)
			if err != nil {
				return nil, fmt.Errorf("pipeline: publish %s: legacy outcome: %w: %w", ev.ID, cutover.ErrNotPublished, err)
			}
			if len(data) <= legacyInline {
				a[attrLegacy] = string(data)
			} else if a[attrLegacyRef], err = p.stores.Blobs.PutBlob(ctx, data); err != nil {
				return nil, fmt.Errorf("pipeline: publish %s: legacy outcome: %w: %w", ev.ID, cutover.ErrNotPublished, err)
			}
		}
		attrs[ev.ID] = a
	}
	return attrs, nil
}

// deferredStart reads the deferred start a message carries; nil if none.
func deferredStart(ctx context.Context, blobs BlobReader, m cutover.Message) (*cutover.DeferredStart, error) {
	ref := m.Attributes[attrStart]
	if ref == "" {
		return nil, nil
	}
	ds := &cutover.DeferredStart{Ref: ref}
	data := []byte(m.Attributes[attrLegacy])
	if r := m.Attributes[attrLegacyRef]; r != "" {
		var err error
		if data, err = blobs.Blob(ctx, r); err != nil {
			return nil, fmt.Errorf("legacy outcome %s: %w", r, err)
		}
	}
	if len(data) > 0 {
		ds.Legacy = new(cutover.Outcome)
		if err := json.Unmarshal(data, ds.Legacy); err != nil {
			return nil, fmt.Errorf("legacy outcome: %w", err)
		}
	}
	return ds, nil
}

// receivedEntry is an event's first log entry, as sent at sentAt (the zero
// time: when it was received): what the publisher writes when it sends it,
// and what a worker writes for an event whose start was deferred.
func receivedEntry(ev *cutover.Event, sentAt time.Time) cutover.Transition {
	at := sentAt
	if at.IsZero() {
		at = ev.ReceivedAt
	}
	return cutover.Transition{Kind: cutover.TransitionReceived, At: at.UTC(), Detail: strings.TrimSpace(receivedDetail(ev))}
}
