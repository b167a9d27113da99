package proxy

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"
)

// capture keeps the first limit bytes that flow through a body while the
// body streams on. The transport may still read a request body after the
// response is done, so every access takes the lock and freeze ends it.
type capture struct {
	mu     sync.Mutex
	limit  int64
	expect int64 // Content-Length, -1 if unknown
	buf    []byte
	n      int64 // bytes seen, also past the limit
	eof    bool
	frozen bool
	eofAt  time.Time
	err    error // a read error other than EOF
}

func newCapture(limit, expect int64) *capture {
	c := &capture{limit: limit, expect: expect}
	if expect > 0 && expect <= limit {
		c.buf = make([]byte, 0, expect)
	}
	return c
}

// emptyCapture is the capture of a request without a body: there is nothing
// to read, so nothing will ever report EOF.
func emptyCapture() *capture { return &capture{eof: true, expect: 0} }

// expectLength sets the declared length once it is known (a response's
// Content-Length arrives after the capture was made).
func (c *capture) expectLength(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expect = n
}

func (c *capture) write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return
	}
	c.n += int64(len(p))
	if c.n > c.limit {
		c.buf = nil // over the cap: stop holding memory, keep counting
		return
	}
	c.buf = append(c.buf, p...)
}

func (c *capture) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return
	}
	if err == io.EOF {
		c.eof, c.eofAt = true, time.Now()
	} else if c.err == nil {
		c.err = err
	}
}

// captured is a frozen capture.
type captured struct {
	body     []byte
	complete bool // every byte was seen and fits the cap
	tooLarge bool
	eofAt    time.Time
}

// freeze ends the capture and returns what it holds. The returned body is
// owned by the caller: later writes are ignored.
func (c *capture) freeze() captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = true
	tooLarge := c.n > c.limit
	done := c.eof || (c.expect >= 0 && c.n == c.expect && c.err == nil)
	return captured{body: c.buf, complete: done && !tooLarge, tooLarge: tooLarge, eofAt: c.eofAt}
}

// teeBody copies what is read from rc into a capture.
type teeBody struct {
	rc io.ReadCloser
	c  *capture
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 {
		t.c.write(p[:n])
	}
	if err != nil {
		t.c.end(err)
	}
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

// readCloser pairs a replacement reader with the original body's Close.
type readCloser struct {
	io.Reader
	io.Closer
}

// prefetch reads up to limit+1 bytes of r's body before the route is
// decided (a bucketing key may live in it) and puts back a body that
// replays them followed by the rest, so legacy still receives every byte
// and nothing beyond the cap is buffered. A read error is replayed to
// whoever reads the body next.
func prefetch(r *http.Request, limit int64) *capture {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return emptyCapture()
	}
	c := newCapture(limit, r.ContentLength)
	if r.ContentLength > limit {
		c.n = r.ContentLength // known to be over the cap: read nothing
		return c
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	b := buf.Bytes()
	c.write(b)
	rest := io.Reader(r.Body)
	switch {
	case err != nil:
		c.end(err)
		rest = &errReader{err: err}
	case int64(len(b)) <= limit:
		c.end(io.EOF)
		rest = http.NoBody
	}
	r.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(b), rest), Closer: r.Body}
	return c
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }
