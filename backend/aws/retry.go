package aws

import (
	"context"
	"math/rand/v2"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// backoff is exponential with full jitter: attempt n (1-based) waits a
// uniform random time up to min(max, base*2^(n-1)). Throttling waits ten
// times longer than other transient errors: the service asked for less
// traffic, not just another try.
type backoff struct {
	base, max time.Duration
}

func (b backoff) delay(attempt int, throttled bool) time.Duration {
	d := b.base
	if throttled {
		d *= 10
	}
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryer is the SDK retry policy: the standard retryable and throttling
// checks, our backoff, and no client-side retry quota. The quota fails
// requests outright once many have failed, which under a brownout turns
// every throttled write into a failed job that the pipeline then retries
// at a higher cost; bounded attempts with jittered backoff already keep
// retries from piling up.
func retryer(o Options) func() sdkaws.Retryer {
	b := backoff{base: o.RetryBase, max: o.MaxBackoff}
	return func() sdkaws.Retryer {
		var throttles retry.IsErrorThrottles
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = o.MaxAttempts
			so.MaxBackoff = o.MaxBackoff
			so.RateLimiter = ratelimit.None
			throttles = so.Throttles
			so.Backoff = retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
				return b.delay(attempt, throttles.IsErrorThrottle(err).Bool()), nil
			})
		})
	}
}
