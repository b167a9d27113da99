package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cutover-dev/cutover"
)

// Headers the worker adds to every request to an HTTP target.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderEventID        = "Cutover-Event-Id"
	HeaderMode           = "Cutover-Mode"
	HeaderCorrelationID  = "Cutover-Correlation-Id"
	HeaderStep           = "Cutover-Step"
)

// BlobReader resolves claim-checked bodies.
type BlobReader interface {
	Blob(ctx context.Context, ref string) ([]byte, error)
}

// HTTPTarget is the handler that sends an event's request to the new
// implementation. Its HTTP response is the outcome; transport errors and
// 429/502/503/504 are retried (honouring Retry-After); any other status is an
// outcome to compare, because a legacy 400 should be matched by an async 400.
type HTTPTarget struct {
	URL     string // may hold {name} placeholders filled from Pattern
	Pattern string // the workflow's route pattern, e.g. /orders/{id}
	Client  *http.Client
	Blobs   BlobReader
	MaxBody int64 // larger responses are a permanent error
}

// RetryAfterError asks for the next attempt no sooner than After.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// Handle implements Handler.
func (t *HTTPTarget) Handle(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
	target, err := t.url(ev)
	if err != nil {
		return nil, cutover.Permanent(err)
	}
	body := []byte(ev.Request.Body)
	if ev.Request.BodyRef != "" {
		if body, err = t.Blobs.Blob(ctx, ev.Request.BodyRef); err != nil {
			return nil, fmt.Errorf("http target: claim check %s: %w", ev.Request.BodyRef, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, ev.Request.Method, target, bytes.NewReader(body))
	if err != nil {
		return nil, cutover.Permanent(fmt.Errorf("http target: %w", err))
	}
	for k, vs := range ev.Request.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for _, h := range append(hopHeaders, "Content-Length", "Host") {
		req.Header.Del(h)
	}
	req.Header.Set(HeaderIdempotencyKey, ev.IdempotencyKey)
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderMode, string(ev.Mode))
	req.Header.Set(HeaderCorrelationID, ev.CorrelationID)
	req.Header.Set(HeaderStep, ev.Step)
	if ev.TraceParent != "" {
		req.Header.Set("Traceparent", ev.TraceParent)
		if ev.TraceState != "" {
			req.Header.Set("Tracestate", ev.TraceState)
		}
	}
	start := time.Now()
	resp, err := t.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("http target: %s %s: %w", ev.Request.Method, target, ctx.Err())
		}
		return nil, fmt.Errorf("http target: %s %s: %w", ev.Request.Method, target, err)
	}
	defer resp.Body.Close()
	limit := t.MaxBody
	if limit <= 0 {
		limit = 10 << 20
	}
	rb, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("http target: read response: %w", err)
	}
	latency := time.Since(start)
	if int64(len(rb)) > limit {
		return nil, cutover.Permanent(fmt.Errorf("http target: response body over %d bytes", limit))
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		err := fmt.Errorf("http target: %s %s: status %d", ev.Request.Method, target, resp.StatusCode)
		if after := retryAfter(resp.Header.Get("Retry-After")); after > 0 {
			return nil, &RetryAfterError{Err: err, After: after}
		}
		return nil, err
	}
	h := resp.Header.Clone()
	for _, k := range append(hopHeaders, "Set-Cookie") {
		h.Del(k)
	}
	return &cutover.Outcome{Status: resp.StatusCode, Header: h, Body: rb, Latency: cutover.Duration(latency), At: time.Now().UTC()}, nil
}

func (t *HTTPTarget) client() *http.Client {
	if t.Client != nil {
		return t.Client
	}
	return http.DefaultClient
}

// url builds the target URL: placeholders filled from the event's path, or
// the event's path when the target has none, plus the event's query.
func (t *HTTPTarget) url(ev *cutover.Event) (string, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return "", fmt.Errorf("http target: url %q: %w", t.URL, err)
	}
	switch {
	case u.Path == "" || u.Path == "/":
		u.Path = ev.Request.Path
	case strings.Contains(u.Path, "{"):
		params := pathParams(t.Pattern, ev.Request.Path)
		var missing []string
		u.Path = placeholderRe(u.Path, func(name string) string {
			v, ok := params[name]
			if !ok {
				missing = append(missing, name)
			}
			return v
		})
		if len(missing) > 0 {
			return "", fmt.Errorf("http target: url %q: path %q gives no value for {%s}", t.URL, ev.Request.Path, strings.Join(missing, "}, {"))
		}
	}
	if ev.Request.Query != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += ev.Request.Query
	}
	return u.String(), nil
}

// pathParams matches a chi-style pattern (/orders/{id}, /f/{name:[a-z]+})
// against a path, segment by segment.
func pathParams(pattern, path string) map[string]string {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	out := map[string]string{}
	for i, p := range ps {
		if i >= len(xs) {
			break
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			name, _, _ := strings.Cut(p[1:len(p)-1], ":")
			out[name] = xs[i]
		}
	}
	return out
}

// placeholderRe replaces each {name} in s with f(name).
func placeholderRe(s string, f func(string) string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		j := strings.IndexByte(s, '}')
		if i < 0 || j < i {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		name, _, _ := strings.Cut(s[i+1:j], ":")
		b.WriteString(f(name))
		s = s[j+1:]
	}
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// retryDelay is the backoff for attempt n, raised to a target's Retry-After.
func retryDelay(b Backoff, n int, err error) time.Duration {
	d := b.Delay(n)
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > d {
		d = min(ra.After, b.Max)
	}
	return d
}
