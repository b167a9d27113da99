package jsonpath

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var placeholder = []byte(`"X"`)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in string
		paths    []string
		want     string
		n        int
		ok       bool
	}{
		{"key", `{"a":1,"b":2}`, []string{"$.a"}, `{"a":"X","b":2}`, 1, true},
		{"nested", `{"a":{"b":[1,2],"c":3}}`, []string{"$.a.b"}, `{"a":{"b":"X","c":3}}`, 1, true},
		{"index", `{"a":[1,2,3]}`, []string{"$.a[1]"}, `{"a":[1,"X",3]}`, 1, true},
		{"index past the end", `{"a":[1]}`, []string{"$.a[3]"}, `{"a":[1]}`, 0, true},
		{"wildcard elements", `[{"s":1},{"t":2},{"s":[3]}]`, []string{"$[*].s"}, `[{"s":"X"},{"t":2},{"s":"X"}]`, 2, true},
		{"wildcard members", `{"m":{"a":1,"b":{"c":2}}}`, []string{"$.m.*"}, `{"m":{"a":"X","b":"X"}}`, 2, true},
		{"outer path wins", `{"a":{"b":1}}`, []string{"$.a.b", "$.a"}, `{"a":"X"}`, 1, true},
		{"a key is not an index", `{"0":1}`, []string{"$[0]"}, `{"0":1}`, 0, true},
		{"an index is not a key", `[1]`, []string{`$["0"]`}, `[1]`, 0, true},
		{"escaped key", `{"\u0061":1}`, []string{"$.a"}, `{"\u0061":"X"}`, 1, true},
		{"spacing kept", " {\n \"a\" :\t[ 1 ] , \"b\":true }\n", []string{"$.a[0]"}, " {\n \"a\" :\t[ \"X\" ] , \"b\":true }\n", 1, true},
		{"duplicate key", `{"a":1,"a":2}`, []string{"$.a"}, `{"a":"X","a":"X"}`, 2, true},
		{"scalar root", `"a"`, []string{"$.a"}, `"a"`, 0, true},
		{"trailing data", `{"a":1} {}`, []string{"$.a"}, `{"a":1} {}`, 0, false},
		{"truncated", `{"a":1`, []string{"$.a"}, `{"a":1`, 0, false},
		{"bad escape", `{"a":"\x"}`, []string{"$.a"}, `{"a":"\x"}`, 0, false},
		{"leading zero", `{"a":01}`, []string{"$.a"}, `{"a":01}`, 0, false},
		{"control character", "{\"a\":\"\x01\"}", []string{"$.a"}, "{\"a\":\"\x01\"}", 0, false},
		{"empty", ``, []string{"$.a"}, ``, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var paths []Path
			for _, s := range tt.paths {
				paths = append(paths, MustParse(s))
			}
			got, n, ok := Redact([]byte(tt.in), paths, placeholder)
			if diff := cmp.Diff(tt.want, string(got)); diff != "" || n != tt.n || ok != tt.ok {
				t.Errorf("Redact(%s) = %d, %v, want %d, %v (-want +got):\n%s", tt.in, n, ok, tt.n, tt.ok, diff)
			}
		})
	}
}

// TestRedactManyPaths crosses the 64 paths the scanner tracks at once.
func TestRedactManyPaths(t *testing.T) {
	var paths []Path
	var in, want strings.Builder
	in.WriteString("{")
	want.WriteString("{")
	for i := range 150 {
		if i > 0 {
			in.WriteString(",")
			want.WriteString(",")
		}
		fmt.Fprintf(&in, `"k%d":%d`, i, i)
		if i%2 == 0 {
			paths = append(paths, MustParse("$.k"+strconv.Itoa(i)))
			fmt.Fprintf(&want, `"k%d":"X"`, i)
		} else {
			fmt.Fprintf(&want, `"k%d":%d`, i, i)
		}
	}
	in.WriteString("}")
	want.WriteString("}")
	got, n, ok := Redact([]byte(in.String()), paths, placeholder)
	if diff := cmp.Diff(want.String(), string(got)); diff != "" || n != 75 || !ok {
		t.Errorf("Redact = %d, %v, want 75, true (-want +got):\n%s", n, ok, diff)
	}
}

func TestRedactDepth(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	if _, _, ok := Redact([]byte(deep), []Path{MustParse("$[0]")}, placeholder); ok {
		t.Errorf("a document nested %d deep was accepted", maxDepth+1)
	}
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, _, valid := Redact([]byte(ok), []Path{MustParse("$[0]")}, placeholder); !valid {
		t.Errorf("a document nested %d deep was refused", maxDepth)
	}
}

func TestLookupScan(t *testing.T) {
	tests := []struct {
		body, path, want string
		ok               bool
	}{
		{`{"a":"x\u00e9\n"}`, "$.a", "xé\n", true},
		{"{\"a\":\"\xff\"}", "$.a", "\uFFFD", true},
		{`{"a":null}`, "$.a", "", false},
		{`{"a":-1.5e3}`, "$.a", "-1.5e3", true},
		{`{"a":false}`, "$.a", "false", true},
		{`{"items":[{"id":"1"},{"id":"2"}]}`, "$.items[*].id", "1", true},
		{`{"a":1} trailing`, "$.a", "1", true},
		{`{"a":1,"b":`, "$.a", "", false},
		{`{"\u0061":"k"}`, "$.a", "k", true},
	}
	for _, tt := range tests {
		got, ok := Lookup([]byte(tt.body), MustParse(tt.path))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%s, %s) = %q, %v; want %q, %v", tt.body, tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzRedact checks the scanner against encoding/json: it accepts exactly
// the documents json.Valid accepts, and its output decodes to what
// replacing the selected values in the decoded input gives.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":{"c":[1,{"d":2}]}}`, `[{"a":"x"},{"b":"y"}]`, `{"a":"\u00e9\"\\"}`, `1e5`, `-0.5E+3`,
		`{"a":}`, `[1,]`, `{"a" 1}`, `nul`, `"\ud800"`, "{\"a\":\"\xff\"}", ` [ ] `, `{"a":{"a":{"a":1}}}`,
	} {
		f.Add([]byte(s))
	}
	paths := []Path{MustParse("$.a"), MustParse("$.b.c[1].d"), MustParse("$[*].b"), MustParse("$.b.*")}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, n, ok := Redact(in, paths, placeholder)
		if ok != json.Valid(in) {
			t.Fatalf("Redact(%q) ok = %v, json.Valid = %v", in, ok, !ok)
		}
		if !ok || n == 0 {
			if !bytes.Equal(out, in) {
				t.Fatalf("Redact(%q) changed it to %q with nothing replaced", in, out)
			}
			return
		}
		want := decodeAny(t, in)
		for _, p := range paths {
			p.Replace(want, "X")
		}
		if diff := cmp.Diff(want, decodeAny(t, out)); diff != "" {
			t.Fatalf("Redact(%q) = %q (-replaced +redacted):\n%s", in, out, diff)
		}
	})
}

// FuzzLookup checks Lookup against decoding the document and reading the
// path's first value, the way it worked before it scanned the bytes.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{`{"a":"x","b":[1,{"c":true}]}`, `{"a":{"b":null}}`, `{"a":"\u0041"}`, `{"a":1}x`, `[{"c":"d"}]`} {
		f.Add([]byte(s))
	}
	// No wildcard over object members: which member a decoded map yields
	// first is random.
	paths := []Path{MustParse("$.a"), MustParse("$.b[1].c"), MustParse("$.a.b"), MustParse("$[*].c"), MustParse("$.b[*]")}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, p := range paths {
			got, ok := Lookup(in, p)
			want, wantOK := referenceLookup(in, p)
			if got != want || ok != wantOK {
				t.Fatalf("Lookup(%q, %s) = %q, %v; decoding gives %q, %v", in, p, got, ok, want, wantOK)
			}
		}
	})
}

// referenceLookup decodes the first value and reads p's first selection.
// With a key that appears twice the decoder keeps the last one, Lookup
// the first: such documents are skipped by returning Lookup's view when
// the two differ only by that.
func referenceLookup(body []byte, p Path) (string, bool) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return "", false
	}
	if hasDuplicateKeys(body) {
		return Lookup(body, p)
	}
	vals := p.Get(doc)
	if len(vals) == 0 {
		return "", false
	}
	switch v := vals[0].(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// hasDuplicateKeys reports whether any object of the first value in body
// repeats a key.
func hasDuplicateKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expect bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &frame{obj: v == '{', keys: map[string]bool{}, expect: v == '{'})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].expect = true
				}
			}
		default:
			if top != nil && top.obj {
				if top.expect {
					k := v.(string)
					if top.keys[k] {
						return true
					}
					top.keys[k] = true
					top.expect = false
				} else {
					top.expect = true
				}
			}
		}
		if len(stack) == 0 {
			return false
		}
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// BenchmarkLookup reads an idempotency key near the end of an order-like
// body with Lookup and, as the same-run baseline, by decoding the body as
// Lookup did before it scanned the bytes.
//
//	go test -run '^$' -bench BenchmarkLookup -benchmem ./jsonpath
func BenchmarkLookup(b *testing.B) {
	var items []string
	for i := range 8 {
		items = append(items, fmt.Sprintf(`{"sku":"sku-%03d","qty":%d,"unit_cents":%d}`, i, i+1, 1299+i))
	}
	body := []byte(`{"customer_id":"c-42","items":[` + strings.Join(items, ",") + `],"order_ref":"ord-7f3a9"}`)
	p := MustParse("$.order_ref")
	decodeLookup := func(body []byte, p Path) (string, bool) {
		var doc any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return "", false
		}
		vals := p.Get(doc)
		if len(vals) == 0 {
			return "", false
		}
		s, ok := vals[0].(string)
		return s, ok
	}
	var refNs float64
	for _, bc := range []struct {
		name string
		f    func([]byte, Path) (string, bool)
	}{{"decode", decodeLookup}, {"scan", Lookup}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v, ok := bc.f(body, p); !ok || v != "ord-7f3a9" {
					b.Fatalf("got %q, %v", v, ok)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if bc.name == "decode" {
				refNs = ns
			} else if refNs > 0 {
				b.ReportMetric(ns/refNs, "x-decode")
			}
		})
	}
}
