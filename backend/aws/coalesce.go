package aws

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// errClosed is returned by calls on a closed Backend.
var errClosed = errors.New("aws: backend is closed")

// coalescer combines the entries of concurrent calls into batches of at
// most max entries (and maxBytes, when size is set). A batch goes out when
// it is full or when its first entry has waited window; window <= 0 sends
// each call's entries at once. Every call gets one result per entry.
type coalescer[E any] struct {
	max      int
	maxBytes int
	size     func(E) int // nil: no byte limit
	window   time.Duration
	timeout  time.Duration // bounds one flush, which no single caller owns
	flush    func(ctx context.Context, batch []E) []error

	mu      sync.Mutex
	pending []slot[E]
	bytes   int
	timer   *time.Timer
	gen     uint64 // names the batch the timer is for
	closed  bool
	flushes sync.WaitGroup
}

type slot[E any] struct {
	e E
	w *waiter
	i int
}

// waiter collects the results of one call.
type waiter struct {
	errs []error
	left atomic.Int64
	done chan struct{}
}

func (w *waiter) set(i int, err error) {
	w.errs[i] = err
	if w.left.Add(-1) == 0 {
		close(w.done)
	}
}

// submit adds es to the pending batch and waits for their results. If ctx
// ends first, the entries may still be sent; their results are ctx's error.
func (c *coalescer[E]) submit(ctx context.Context, es []E) []error {
	if len(es) == 0 {
		return nil
	}
	w := &waiter{errs: make([]error, len(es)), done: make(chan struct{})}
	w.left.Store(int64(len(es)))
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		for i := range w.errs {
			w.errs[i] = errClosed
		}
		return w.errs
	}
	for i, e := range es {
		n := 0
		if c.size != nil {
			n = c.size(e)
			if len(c.pending) > 0 && c.bytes+n > c.maxBytes {
				c.cutLocked()
			}
		}
		c.pending = append(c.pending, slot[E]{e: e, w: w, i: i})
		c.bytes += n
		if len(c.pending) >= c.max {
			c.cutLocked()
		}
	}
	if len(c.pending) > 0 {
		if c.window <= 0 {
			c.cutLocked()
		} else if c.timer == nil {
			gen := c.gen
			c.timer = time.AfterFunc(c.window, func() { c.expire(gen) })
		}
	}
	c.mu.Unlock()
	select {
	case <-w.done:
		return w.errs
	case <-ctx.Done():
		errs := make([]error, len(es))
		for i := range errs {
			errs[i] = ctx.Err()
		}
		return errs
	}
}

// expire sends the batch the timer was started for, if still pending.
func (c *coalescer[E]) expire(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen && len(c.pending) > 0 {
		c.cutLocked()
	}
}

// cutLocked sends the pending batch in its own goroutine.
func (c *coalescer[E]) cutLocked() {
	batch := c.pending
	c.pending, c.bytes = nil, 0
	c.gen++
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.flushes.Add(1)
	go func() {
		defer c.flushes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		es := make([]E, len(batch))
		for i, s := range batch {
			es[i] = s.e
		}
		errs := c.flush(ctx, es)
		for i, s := range batch {
			s.w.set(s.i, errs[i])
		}
	}()
}

// close sends what is pending, waits for every batch in flight, and makes
// later calls fail.
func (c *coalescer[E]) close() {
	c.mu.Lock()
	c.closed = true
	if len(c.pending) > 0 {
		c.cutLocked()
	}
	c.mu.Unlock()
	c.flushes.Wait()
}
