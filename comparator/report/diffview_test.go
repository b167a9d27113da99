package report

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/comparator"
)

func out(status int, body string, header ...string) *cutover.Outcome {
	o := &cutover.Outcome{Status: status, Body: []byte(body), Header: http.Header{}, Latency: cutover.Duration(12 * time.Millisecond)}
	for i := 0; i+1 < len(header); i += 2 {
		o.Header.Add(header[i], header[i+1])
	}
	return o
}

func bigOrder(items int, wrong int) string {
	var b strings.Builder
	b.WriteString(`{"id":"o-1","items":[`)
	for i := range items {
		if i > 0 {
			b.WriteString(",")
		}
		price := 10 + i
		if i == wrong {
			price++
		}
		fmt.Fprintf(&b, `{"sku":"S%02d","qty":1,"price":%d}`, i, price)
	}
	b.WriteString(`],"status":"paid"}`)
	return b.String()
}

func TestRenderDiffGolden(t *testing.T) {
	clock := comparator.WithClock(func() time.Time { return now })
	orderRules := comparator.MustCompile(cutover.CompareConfig{
		Ignore:    []string{"$.order_id"},
		Unordered: []cutover.UnorderedRule{{Path: "$.items", Key: "sku"}},
		Headers:   []string{"Content-Type", "Location"},
	}, clock)
	plain := comparator.MustCompile(cutover.CompareConfig{}, clock)
	stale := &cutover.Comparison{EventID: "e-stale", Workflow: "create-order", Verdict: cutover.VerdictMismatch,
		Reason: "1 difference: $.order_id differs", ComparedAt: now.Add(-time.Hour),
		Diffs: []cutover.PathDiff{{Path: "$.order_id", Legacy: []byte(`"a"`), Async: []byte(`"b"`)}}}
	tests := []struct {
		name   string
		rules  *comparator.Rules
		pair   cutover.OutcomePair
		stored *cutover.Comparison
		opt    DiffOptions
	}{
		{"order", orderRules, cutover.OutcomePair{EventID: "e-order", Workflow: "create-order",
			Legacy: out(201, `{"order_id":"a1","items":[{"sku":"A","qty":1,"price":9.99},{"sku":"B","qty":2,"price":5},{"sku":"C","qty":1,"price":1}],"note":null,"total":29.99}`,
				"Content-Type", "application/json", "Location", "/orders/a1", "Date", "Thu, 26 Nov 2026 10:00:00 GMT"),
			Async: out(200, `{"total":29.99,"items":[{"sku":"D","qty":1,"price":3},{"sku":"B","qty":2,"price":5.5},{"sku":"A","price":9.99,"qty":1}],"order_id":"b7"}`,
				"Content-Type", "application/json; charset=utf-8", "Date", "Thu, 26 Nov 2026 10:00:01 GMT")}, nil, DiffOptions{}},
		{"text-body", plain, cutover.OutcomePair{EventID: "e-text", Workflow: "w",
			Legacy: out(200, "line one\nline two\nline three\n"), Async: out(200, "line one\nline 2\nline three\n")}, nil, DiffOptions{}},
		{"async-error", plain, cutover.OutcomePair{EventID: "e-err", Workflow: "w",
			Legacy: out(200, `{"ok":true}`), Async: &cutover.Outcome{Error: "handler: insufficient stock"}}, nil, DiffOptions{}},
		{"large-with-context", orderRules, cutover.OutcomePair{EventID: "e-large", Workflow: "w",
			Legacy: out(200, bigOrder(40, -1)), Async: out(200, bigOrder(40, 23))}, nil, DiffOptions{Context: 2, Width: 40}},
		{"rules-changed", orderRules, cutover.OutcomePair{EventID: "e-stale", Workflow: "create-order",
			Legacy: out(200, `{"order_id":"a"}`), Async: out(200, `{"order_id":"b"}`)}, stale, DiffOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.rules.Explain(tt.pair, tt.stored)
			for _, f := range []Format{FormatText, FormatJSON} {
				var buf bytes.Buffer
				if err := RenderDiff(&buf, f, e, tt.opt); err != nil {
					t.Fatal(err)
				}
				ext := map[Format]string{FormatText: ".txt", FormatJSON: ".json"}[f]
				golden(t, filepath.Join("testdata", "diff-"+tt.name+ext), buf.Bytes())
			}
		})
	}
	if err := RenderDiff(&bytes.Buffer{}, FormatHTML, &comparator.Explanation{}, DiffOptions{}); err == nil {
		t.Error("RenderDiff accepted html")
	}
}
