package redact

import (
	"fmt"
	"net/http"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
)

// Placeholder replaces a redacted JSON value.
const Placeholder = "[REDACTED]"

// SkippedInvalidJSON is the Outcome.Skipped reason of an outcome whose body
// was withheld because JSON-path redaction could not be applied to it.
const SkippedInvalidJSON = "body is not valid JSON, so its redact.json paths cannot be applied"

// Always lists the headers redacted whatever the config says: credentials
// and sessions never belong in an archive.
func Always() []string { return []string{"Authorization", "Cookie", "Set-Cookie"} }

// Redactor applies one set of rules. It is immutable and safe for concurrent
// use.
type Redactor struct {
	headers map[string]bool // canonical names
	paths   []jsonpath.Path
}

// New merges rules (typically proxy.redact and a workflow's redact) with the
// headers of Always. A JSON path that does not parse, or names the whole
// body, is an error.
func New(rules ...cutover.RedactConfig) (*Redactor, error) {
	r := &Redactor{headers: map[string]bool{}}
	for _, h := range Always() {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	seen := map[string]bool{}
	for _, rule := range rules {
		for _, h := range rule.Headers {
			r.headers[http.CanonicalHeaderKey(h)] = true
		}
		for _, s := range rule.JSON {
			p, err := jsonpath.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("redact: %w", err)
			}
			if len(p) == 0 {
				return nil, fmt.Errorf("redact: %q names the whole body; name a field", s)
			}
			if key := p.String(); !seen[key] {
				seen[key] = true
				r.paths = append(r.paths, p)
			}
		}
	}
	return r, nil
}

// HasJSONPaths reports whether bodies are rewritten at all; a caller that
// cannot decode a body (an unknown Content-Encoding) must then not store it.
func (r *Redactor) HasJSONPaths() bool { return len(r.paths) > 0 }

// Redacts reports whether the header name is removed (case-insensitive).
func (r *Redactor) Redacts(name string) bool { return r.headers[http.CanonicalHeaderKey(name)] }

// Header returns a copy of h without the redacted headers. Names are
// compared case-insensitively, so a map built by hand (or decoded from JSON)
// with non-canonical keys is redacted too. nil stays nil.
func (r *Redactor) Header(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	// One backing array for every value, as http.Header.Clone does: this
	// runs twice per mirrored request.
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	backing := make([]string, n)
	out := make(http.Header, len(h))
	for k, vs := range h {
		if r.Redacts(k) {
			continue
		}
		if len(vs) == 0 {
			out[k] = nil
			continue
		}
		c := copy(backing, vs)
		out[k] = backing[:c:c]
		backing = backing[c:]
	}
	return out
}

// Strip deletes the redacted headers from h itself and returns it: Header
// without the copy, for a caller that owns h.
func (r *Redactor) Strip(h http.Header) http.Header {
	for k := range h {
		if r.Redacts(k) {
			delete(h, k)
		}
	}
	return h
}

// Request returns req with its headers and body redacted. req is not
// modified.
func (r *Redactor) Request(req cutover.Request) cutover.Request {
	req.Header = r.Header(req.Header)
	req.Body = r.Body(req.Body)
	return req
}

// Event returns a redacted copy of e; e is not modified.
func (r *Redactor) Event(e *cutover.Event) *cutover.Event {
	if e == nil {
		return nil
	}
	cp := *e
	cp.Request = r.Request(e.Request)
	return &cp
}

// Outcome returns a redacted copy of o; o is not modified.
func (r *Redactor) Outcome(o *cutover.Outcome) *cutover.Outcome {
	if o == nil {
		return nil
	}
	cp := *o
	cp.Header = r.Header(o.Header)
	var ok bool
	if cp.Body, ok = r.Check(o.Body); !ok {
		cp.Body = nil
		if cp.Skipped == "" {
			cp.Skipped = SkippedInvalidJSON
		}
	}
	cp.Effects = append([]cutover.Effect(nil), o.Effects...)
	return &cp
}
