package jsonpath

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Path
	}{
		{"$", nil},
		{"$.a", Path{{Key: "a"}}},
		{"$.a.b_c-d", Path{{Key: "a"}, {Key: "b_c-d"}}},
		{"$.items[0].sku", Path{{Key: "items"}, {Index: 0, IsIndex: true}, {Key: "sku"}}},
		{"$.items[*].sku", Path{{Key: "items"}, {Wildcard: true}, {Key: "sku"}}},
		{"$.*", Path{{Wildcard: true}}},
		{`$["odd key"]`, Path{{Key: "odd key"}}},
		{`$['it''s']`, nil}, // rejected below
		{`$["a\"b"]`, Path{{Key: `a"b`}}},
		{"$[12]", Path{{Index: 12, IsIndex: true}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.in == `$['it''s']` {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "a.b", "$.", "$..a", "$[", "$[x]", "$[01]", "$[-1]", `$["a`, "$ a", "$[*", `$["a"x`} {
		_, err := Parse(in)
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error = %v, want ErrSyntax", in, err)
		}
	}
}

func TestGetReplace(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a":{"b":1},"items":[{"sku":"x","n":1},{"sku":"y"}],"card":{"number":"4111"}}`), &doc); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"x", "y"}, MustParse("$.items[*].sku").Get(doc)); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	if got := MustParse("$.items[5].sku").Get(doc); len(got) != 0 {
		t.Errorf("Get out of range = %v, want nothing", got)
	}
	if n := MustParse("$.card.number").Replace(doc, "[REDACTED]"); n != 1 {
		t.Errorf("Replace count = %d, want 1", n)
	}
	if n := MustParse("$.items[*].sku").Replace(doc, nil); n != 2 {
		t.Errorf("Replace wildcard count = %d, want 2", n)
	}
	out, _ := json.Marshal(doc)
	want := `{"a":{"b":1},"card":{"number":"[REDACTED]"},"items":[{"n":1,"sku":null},{"sku":null}]}`
	if string(out) != want {
		t.Errorf("after Replace = %s, want %s", out, want)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, concrete string
		match, prefix     bool
	}{
		{"$.items[*].price", "$.items[3].price", true, true},
		{"$.items[*].price", "$.items[3].qty", false, false},
		{"$.a", "$.a.b", false, true},
		{"$.a", "$.a", true, true},
		{"$.a[0]", "$.a[1]", false, false},
		{"$.*", "$.x", true, true},
	}
	for _, tt := range tests {
		p, c := MustParse(tt.pattern), MustParse(tt.concrete)
		if got := p.Match(c); got != tt.match {
			t.Errorf("%s.Match(%s) = %v, want %v", tt.pattern, tt.concrete, got, tt.match)
		}
		if got := p.MatchPrefix(c); got != tt.prefix {
			t.Errorf("%s.MatchPrefix(%s) = %v, want %v", tt.pattern, tt.concrete, got, tt.prefix)
		}
	}
}

func TestLookup(t *testing.T) {
	body := []byte(`{"customer_id":"c-7","n":42,"ok":true,"o":{}}`)
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"$.customer_id", "c-7", true},
		{"$.n", "42", true},
		{"$.ok", "true", true},
		{"$.o", "", false},
		{"$.missing", "", false},
	}
	for _, tt := range tests {
		got, ok := Lookup(body, MustParse(tt.path))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%s) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := Lookup([]byte("not json"), MustParse("$.a")); ok {
		t.Error("Lookup on non-JSON body succeeded")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"$", "$.a.b", "$.items[*].sku", `$["x y"]`, "$[3]", "$.*", `$['a\'b']`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		q, err := Parse(p.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, p.String(), err)
		}
		if diff := cmp.Diff(p, q); diff != "" {
			t.Fatalf("round trip of %q via %q (-first +second):\n%s", s, p.String(), diff)
		}
	})
}
