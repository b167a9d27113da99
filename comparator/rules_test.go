package comparator

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
	"github.com/google/go-cmp/cmp"
)

func TestCompileErrorsNameTheRule(t *testing.T) {
	tests := []struct {
		name string
		cfg  cutover.CompareConfig
		want string // the error starts with this
	}{
		{"bad ignore path", cutover.CompareConfig{Ignore: []string{"$.a", "$.b["}}, "compare.ignore[1]: "},
		{"ignore root", cutover.CompareConfig{Ignore: []string{"$"}}, `compare.ignore[0]: "$" names the whole body`},
		{"bad unordered path", cutover.CompareConfig{Unordered: []cutover.UnorderedRule{{Path: "items"}}}, "compare.unordered[0].path: "},
		{"duplicate unordered", cutover.CompareConfig{Unordered: []cutover.UnorderedRule{{Path: "$.a"}, {Path: "$.b"}, {Path: `$["a"]`}}}, `compare.unordered[2].path: "$[\"a\"]" is also compare.unordered[0]`},
		{"wildcard key", cutover.CompareConfig{Unordered: []cutover.UnorderedRule{{Path: "$.a", Key: "$.*"}}}, "compare.unordered[0].key: "},
		{"root key", cutover.CompareConfig{Unordered: []cutover.UnorderedRule{{Path: "$.a", Key: "$"}}}, "compare.unordered[0].key: "},
		{"negative tolerance", cutover.CompareConfig{NumericTolerance: -1}, "compare.numeric_tolerance: "},
		{"NaN tolerance", cutover.CompareConfig{NumericTolerance: math.NaN()}, "compare.numeric_tolerance: "},
		{"negative timestamp tolerance", cutover.CompareConfig{TimestampTolerance: -1}, "compare.timestamp_tolerance: "},
		{"bad header", cutover.CompareConfig{Headers: []string{"Content-Type", "X Bad"}}, "compare.headers[1]: "},
		{"bad status", cutover.CompareConfig{StatusMap: map[int]int{200: 201, 99: 200}}, "compare.status_map: 99: 200"},
		{"too many ignores", cutover.CompareConfig{Ignore: strings.Split(strings.Repeat("$.a,", 65)[:4*65-1], ",")}, "compare.ignore: 65 patterns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Compile error = %v, want prefix %q", err, tt.want)
			}
		})
	}
	_, err := Compile(cutover.CompareConfig{Ignore: []string{"$.b["}})
	if !errors.Is(err, jsonpath.ErrSyntax) {
		t.Errorf("path error %v does not wrap jsonpath.ErrSyntax", err)
	}
}

func TestCompileAcceptsConfigExample(t *testing.T) {
	r, err := Compile(cutover.CompareConfig{
		Ignore:           []string{"$.order_id", "$.created_at", "$.items[*].id", `$["odd key"]`},
		Unordered:        []cutover.UnorderedRule{{Path: "$.items", Key: "sku"}, {Path: "$.tags"}, {Path: "$", Key: "$.ref.id"}},
		NumericTolerance: 0.005, TimestampTolerance: cutover.Duration(time.Second),
		Headers:   []string{"content-type", "Content-Type", "x-request-id"},
		StatusMap: map[int]int{200: 201},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Content-Type", "X-Request-Id"}, r.Headers()); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
}

func TestCanonNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"0.000", "0"}, {"-0.0e10", "0"},
		{"1", "1"}, {"1.0", "1"}, {"1e0", "1"}, {"10e-1", "1"}, {"1E+0", "1"},
		{"-12", "-12"}, {"-12.50", "-12.5"}, {"100", "100"}, {"1e2", "100"}, {"1.5e1", "15"},
		{"0.5", "0.5"}, {"5e-1", "0.5"}, {"0.000001", "0.000001"}, {"1e-7", "1e-7"}, {"0.0000001", "1e-7"},
		{"123456789012345678901", "123456789012345678901"}, {"1e21", "1e+21"}, {"1234567890123456789012", "1.234567890123456789012e+21"},
		{"12345678901234567890", "12345678901234567890"}, {"1.25e-10", "1.25e-10"},
		{"1e999999999999999999", "1e+999999999999999999"}, {"10e999999999999999999", "1e+1000000000000000000"},
		{"-1.5e-999999999999999999", "-1.5e-999999999999999999"}, {"0.15e-999999999999999999", "1.5e-1000000000000000000"},
	}
	for _, tt := range tests {
		if got := canonNumber(tt.in); got != tt.want {
			t.Errorf("canonNumber(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNumbersEqual(t *testing.T) {
	tests := []struct {
		a, b string
		tol  float64
		want bool
	}{
		{"1", "1.0", 0, true},
		{"12345678901234567890", "12345678901234567891", 0, false},
		{"12345678901234567890", "12345678901234567891", 2, true},
		{"1.99", "1.995", 0.005, true}, // inclusive despite float rounding
		{"1.99", "1.9951", 0.005, false},
		{"1e400", "1e400", 0, true},
		{"1e400", "2e400", 1e300, false}, // both +Inf: never within a tolerance
	}
	for _, tt := range tests {
		if got := numbersEqual(tt.a, tt.b, tt.tol); got != tt.want {
			t.Errorf("numbersEqual(%s, %s, %v) = %v, want %v", tt.a, tt.b, tt.tol, got, tt.want)
		}
	}
}

func TestParseEdges(t *testing.T) {
	deep := func(n int) []byte { return []byte(strings.Repeat("[", n) + strings.Repeat("]", n)) }
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"max depth", deep(maxDepth), true},
		{"over max depth", deep(maxDepth + 1), false},
		{"trailing garbage", []byte(`{} x`), false},
		{"two values", []byte(`1 2`), false},
		{"leading zero", []byte(`01`), false},
		{"bare minus", []byte(`-`), false},
		{"control char", []byte("\"a\x01\""), false},
		{"bad escape", []byte(`"\x"`), false},
		{"short unicode", []byte(`"\u12"`), false},
		{"empty", nil, false},
		{"spaces", []byte(" \t\r\n 1 \n"), true},
	}
	for _, tt := range tests {
		if _, ok := parse(tt.in); ok != tt.ok || ok != json.Valid(tt.in) {
			t.Errorf("%s: parse ok = %v, want %v (json.Valid %v)", tt.name, ok, tt.ok, json.Valid(tt.in))
		}
	}
	// Duplicate keys: the last one wins, as in encoding/json.
	got, _ := Canonicalize([]byte(`{"b":1,"a":2,"b":3}`))
	if string(got) != `{"a":2,"b":3}` {
		t.Errorf("duplicate keys: %s", got)
	}
	got, _ = Canonicalize([]byte(`{"s":"\ud800x\u00e9\ud83d\ude00 <&>","n":1.50}`))
	if want := `{"n":1.5,"s":"�xé😀 <&>"}`; string(got) != want {
		t.Errorf("canonical = %s, want %s", got, want)
	}
}

func TestMaxDiffsBoundsTheRecord(t *testing.T) {
	var legacy, async strings.Builder
	legacy.WriteString("[")
	async.WriteString("[")
	for i := range 200 {
		if i > 0 {
			legacy.WriteString(",")
			async.WriteString(",")
		}
		legacy.WriteString(`{"v":1}`)
		async.WriteString(`{"v":2}`)
	}
	legacy.WriteString("]")
	async.WriteString("]")
	big := `{"blob":"` + strings.Repeat("x", 5000) + `"}`
	c := MustCompile(cutover.CompareConfig{}).Compare(cutover.OutcomePair{
		Legacy: jsonOutcome([]byte(legacy.String())), Async: jsonOutcome([]byte(async.String())),
	})
	if len(c.Diffs) != MaxDiffs || !strings.Contains(c.Reason, "200 differences") || !strings.Contains(c.Reason, "first 64 recorded") {
		t.Errorf("%d diffs, reason %q", len(c.Diffs), c.Reason)
	}
	c = MustCompile(cutover.CompareConfig{}).Compare(cutover.OutcomePair{Legacy: jsonOutcome([]byte(big)), Async: jsonOutcome([]byte(`{}`))})
	if len(c.Diffs) != 1 || len(c.Diffs[0].Legacy) > MaxDiffValue || !json.Valid(c.Diffs[0].Legacy) {
		t.Errorf("large value kept as %d bytes: %.80s", len(c.Diffs[0].Legacy), c.Diffs[0].Legacy)
	}
}

func TestBodyRefs(t *testing.T) {
	body := []byte(`{"a":1}`)
	ref := cutover.BlobRef(body)
	r := MustCompile(cutover.CompareConfig{})
	tests := []struct {
		name          string
		legacy, async *cutover.Outcome
		want          cutover.Verdict
	}{
		{"same ref", &cutover.Outcome{Status: 200, BodyRef: ref}, &cutover.Outcome{Status: 200, BodyRef: ref}, cutover.VerdictMatch},
		{"ref and same inline bytes", &cutover.Outcome{Status: 200, BodyRef: ref}, &cutover.Outcome{Status: 200, Body: body}, cutover.VerdictMatch},
		{"unloaded different refs", &cutover.Outcome{Status: 200, BodyRef: ref}, &cutover.Outcome{Status: 200, Body: []byte(`{"a": 1}`)}, cutover.VerdictNotComparable},
	}
	for _, tt := range tests {
		if c := r.Compare(cutover.OutcomePair{Legacy: tt.legacy, Async: tt.async}); c.Verdict != tt.want {
			t.Errorf("%s: %s (%s), want %s", tt.name, c.Verdict, c.Reason, tt.want)
		}
	}
}

func TestComparedDetail(t *testing.T) {
	for _, tt := range []struct {
		v     cutover.Verdict
		epoch int
		text  string
	}{{cutover.VerdictMatch, 0, "match"}, {cutover.VerdictAsyncMissing, 3, "async_missing epoch=3"}} {
		if got := ComparedDetail(tt.v, tt.epoch); got != tt.text {
			t.Errorf("ComparedDetail = %q, want %q", got, tt.text)
		}
		v, e, ok := ParseComparedDetail(tt.text)
		if !ok || v != tt.v || e != tt.epoch {
			t.Errorf("ParseComparedDetail(%q) = %s %d %v", tt.text, v, e, ok)
		}
	}
	for _, bad := range []string{"", "nope", "match epoch=x", "match 2"} {
		if _, _, ok := ParseComparedDetail(bad); ok {
			t.Errorf("ParseComparedDetail(%q) ok", bad)
		}
	}
}
