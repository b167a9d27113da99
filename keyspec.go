package cutover

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cutover-dev/cutover/jsonpath"
)

// KeySource says where a KeySpec reads its value.
type KeySource string

const (
	KeyFromEventID KeySource = ""       // the event id: every request is distinct
	KeyFromHeader  KeySource = "header" // header:Idempotency-Key
	KeyFromJSON    KeySource = "json"   // json:$.order_ref
	KeyFromQuery   KeySource = "query"  // query:order
)

// KeySpec names where an idempotency or bucketing key comes from.
type KeySpec struct {
	Source KeySource
	Name   string        // header or query parameter name
	Path   jsonpath.Path // for KeyFromJSON
	raw    string
}

// ParseKeySpec reads "header:NAME", "json:$.path", "query:NAME", or "" for
// the default (the event id).
func ParseKeySpec(s string) (KeySpec, error) {
	if s == "" {
		return KeySpec{}, nil
	}
	src, arg, ok := strings.Cut(s, ":")
	if !ok || arg == "" {
		return KeySpec{}, fmt.Errorf("%q: want header:NAME, json:$.path or query:NAME", s)
	}
	switch KeySource(src) {
	case KeyFromHeader:
		return KeySpec{Source: KeyFromHeader, Name: http.CanonicalHeaderKey(arg), raw: s}, nil
	case KeyFromQuery:
		return KeySpec{Source: KeyFromQuery, Name: arg, raw: s}, nil
	case KeyFromJSON:
		p, err := jsonpath.Parse(arg)
		if err != nil {
			return KeySpec{}, err
		}
		if len(p) == 0 {
			return KeySpec{}, fmt.Errorf("%q: the path must name a field, not the whole body", s)
		}
		return KeySpec{Source: KeyFromJSON, Path: p, raw: s}, nil
	}
	return KeySpec{}, fmt.Errorf("%q: unknown source %q (want header, json or query)", s, src)
}

func (k KeySpec) String() string { return k.raw }

// Extract returns the key for a request, or false when the request does not
// carry it (the caller then falls back to its default).
func (k KeySpec) Extract(h http.Header, rawQuery string, body []byte) (string, bool) {
	switch k.Source {
	case KeyFromHeader:
		v := h.Get(k.Name)
		return v, v != ""
	case KeyFromQuery:
		q, _ := url.ParseQuery(rawQuery) // keep what parses
		v := q.Get(k.Name)
		return v, v != ""
	case KeyFromJSON:
		return jsonpath.Lookup(body, k.Path)
	}
	return "", false
}
