package redact

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
)

// fuzzRules are the paths FuzzBody redacts: a key, a nested key, a
// wildcard over array elements and one over object members.
var fuzzRules = []string{"$.password", "$.payment.card_number", "$.items[*].secret", "$.meta.*", "$[1]"}

// FuzzBody checks Body against referenceBody, the decode, replace and
// encode it replaced: for any input, a body that does not look like JSON is
// left alone, one that looks like JSON but does not parse is withheld, a
// redacted body is JSON and decodes to what the reference's output decodes
// to, and no value under a redacted path survives.
func FuzzBody(f *testing.F) {
	for _, s := range []string{
		`{"password":"x","payment":{"card_number":"4111"}}`,
		`{"items":[{"secret":1},{"secret":[1,2]}]}`,
		`[1,2,3]`, `not json`, `{"password":`, ` {"a":"\u003c"}`, `{"password":1e400}`,
		`{"pass\u0077ord":"x"}`, `{"password":"a","password":{"b":1}}`, `{"meta":{"a":1,"b":[2]}}`,
		"{\"password\":\"\xff\"}", `{"a": [ 1 , {"password" : 2} ] } `,
	} {
		f.Add([]byte(s))
	}
	r, paths := newWithPaths(f, fuzzRules)
	f.Fuzz(func(t *testing.T, in []byte) {
		in = bytes.Clone(in)
		orig := bytes.Clone(in)
		out := r.Body(in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("Body changed its input: %q -> %q", orig, in)
		}
		want := referenceBody(paths, in)
		doc, ok := decode(in)
		switch {
		case !looksLikeJSON(in):
			if !bytes.Equal(out, in) {
				t.Fatalf("non-JSON body changed: %q -> %q", in, out)
			}
			return
		case !ok:
			if string(out) != `"`+Placeholder+`"` {
				t.Fatalf("a body like JSON that does not parse was not withheld: %q -> %q", in, out)
			}
			return
		}
		got, ok := decode(out)
		if !ok {
			t.Fatalf("redacted body is not JSON: %q -> %q", in, out)
		}
		wantDoc, _ := decode(want)
		if diff := cmp.Diff(wantDoc, got); diff != "" {
			t.Fatalf("%q: Body %q, reference %q (-reference +Body):\n%s", in, out, want, diff)
		}
		for _, p := range paths {
			if len(p.Get(doc)) == 0 {
				continue
			}
			for _, v := range p.Get(got) {
				if v != Placeholder {
					t.Fatalf("%s survived redaction: %q -> %q", p, in, out)
				}
			}
		}
	})
}

// newWithPaths returns the redactor of JSON-path rules and the rules
// parsed, for referenceBody.
func newWithPaths(tb testing.TB, rules []string) (*Redactor, []jsonpath.Path) {
	tb.Helper()
	r, err := New(cutover.RedactConfig{JSON: rules})
	if err != nil {
		tb.Fatal(err)
	}
	var paths []jsonpath.Path
	for _, s := range rules {
		paths = append(paths, jsonpath.MustParse(s))
	}
	return r, paths
}

// referenceBody is how Body worked before it scanned the bytes: decode
// into any, replace, encode. It is the oracle of FuzzBody and the baseline
// of BenchmarkBody.
func referenceBody(paths []jsonpath.Path, b []byte) []byte {
	if !looksLikeJSON(b) {
		return b
	}
	doc, ok := decode(b)
	if !ok {
		return b
	}
	n := 0
	for _, p := range paths {
		n += p.Replace(doc, Placeholder)
	}
	if n == 0 {
		return b
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// decode parses exactly one JSON value, keeping numbers as json.Number.
func decode(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return doc, true
}
