package pipeline

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/cutover-dev/cutover"
)

// Backoff is exponential backoff with jitter: attempt n waits
// Initial*Multiplier^(n-1), capped at Max, of which a Jitter fraction is drawn
// at random so that retries of a burst spread out instead of returning
// together.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
	rand       func() float64 // [0,1); nil: math/rand/v2
}

// BackoffFrom reads the config's worker.backoff.
func BackoffFrom(c cutover.BackoffConfig) Backoff {
	return Backoff{Initial: c.Initial.D(), Max: c.Max.D(), Multiplier: c.Multiplier, Jitter: c.Jitter}
}

// Delay returns the wait after the failed attempt n (1-based).
func (b Backoff) Delay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(n-1))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(b.Max)
	}
	r := rand.Float64
	if b.rand != nil {
		r = b.rand
	}
	d -= d * b.Jitter * r()
	return time.Duration(d)
}
