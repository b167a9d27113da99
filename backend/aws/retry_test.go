package aws

import (
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	b := backoff{base: 10 * time.Millisecond, max: 200 * time.Millisecond}
	for _, tc := range []struct {
		attempt   int
		throttled bool
		cap       time.Duration
	}{
		{1, false, 10 * time.Millisecond},
		{2, false, 20 * time.Millisecond},
		{4, false, 80 * time.Millisecond},
		{10, false, 200 * time.Millisecond},
		{1, true, 100 * time.Millisecond},
		{3, true, 200 * time.Millisecond},
	} {
		for i := 0; i < 200; i++ {
			if d := b.delay(tc.attempt, tc.throttled); d <= 0 || d > tc.cap {
				t.Fatalf("delay(%d, throttled %v) = %v, want in (0, %v]", tc.attempt, tc.throttled, d, tc.cap)
			}
		}
	}
	if d := (backoff{}).delay(3, false); d != 0 {
		t.Errorf("zero backoff delays %v", d)
	}
}
