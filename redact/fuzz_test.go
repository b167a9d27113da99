package redact

import (
	"encoding/json"
	"testing"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
)

// FuzzBody checks, for any input, that Body never panics, leaves non-JSON
// bytes alone, and that in a JSON result no value under a redacted path
// survives.
func FuzzBody(f *testing.F) {
	for _, s := range []string{
		`{"password":"x","payment":{"card_number":"4111"}}`,
		`{"items":[{"secret":1},{"secret":[1,2]}]}`,
		`[1,2,3]`, `not json`, `{"password":`, ` {"a":"\u003c"}`, `{"password":1e400}`,
	} {
		f.Add([]byte(s))
	}
	r, err := New(cutover.RedactConfig{JSON: []string{"$.password", "$.payment.card_number", "$.items[*].secret"}})
	if err != nil {
		f.Fatal(err)
	}
	paths := []jsonpath.Path{jsonpath.MustParse("$.password"), jsonpath.MustParse("$.payment.card_number"), jsonpath.MustParse("$.items[*].secret")}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := r.Body(in)
		doc, ok := decode(in)
		if !ok || !looksLikeJSON(in) {
			if string(out) != string(in) {
				t.Fatalf("non-JSON body changed: %q -> %q", in, out)
			}
			return
		}
		got, ok := decode(out)
		if !ok || !json.Valid(out) {
			t.Fatalf("redacted body is not JSON: %q -> %q", in, out)
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
