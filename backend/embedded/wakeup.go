package embedded

import "sync"

// wakeups lets a long-polling Receive sleep until this process sends to its
// queue. It is only an optimisation: sends from other processes are found
// by polling.
type wakeups struct {
	mu    sync.Mutex
	chans map[string]chan struct{}
}

// wait returns a channel closed by the next notify of queue. Take it before
// looking at the queue, so that a send in between is not missed.
func (w *wakeups) wait(queue string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, ok := w.chans[queue]
	if !ok {
		ch = make(chan struct{})
		w.chans[queue] = ch
	}
	return ch
}

func (w *wakeups) notify(queue string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.chans[queue]; ok {
		close(ch)
		delete(w.chans, queue)
	}
}
