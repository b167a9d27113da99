package cutover

import (
	"testing"
	"time"
)

func TestEventIDTime(t *testing.T) {
	before := time.Now().Add(-time.Millisecond)
	at, ok := EventIDTime(NewEventID())
	if !ok || at.Before(before.Truncate(time.Millisecond)) || at.After(time.Now()) {
		t.Errorf("EventIDTime(NewEventID()) = %v, %v; want about now", at, ok)
	}
	for _, id := range []string{"e1", "", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"} {
		if _, ok := EventIDTime(id); ok {
			t.Errorf("EventIDTime(%q) is ok, want not: not a UUIDv7", id)
		}
	}
}
