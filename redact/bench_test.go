package redact

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkBody redacts an order-like body of about 1 KiB (a card number
// and every item's serial) with Body and, as the same-run baseline, with
// referenceBody, the decode-replace-encode path Body replaced. The scan
// sub-benchmark reports x-reference, its ns/op over the reference's.
//
//	go test -run '^$' -bench BenchmarkBody -benchmem ./redact
func BenchmarkBody(b *testing.B) {
	r, paths := newWithPaths(b, []string{"$.payment.card_number", "$.items[*].serial"})
	var items []string
	for i := range 8 {
		items = append(items, fmt.Sprintf(`{"sku":"sku-%03d","qty":%d,"unit_cents":%d,"serial":"SN-%08d","note":"gift wrap, no invoice"}`, i, i+1, 1299+i, i*7919))
	}
	body := []byte(`{"customer_id":"c-42","currency":"EUR","items":[` + strings.Join(items, ",") +
		`],"payment":{"method":"card","card_number":"4111111111111111","expiry":"12/29"},"shipping":{"name":"A. Person","city":"Lyon","zip":"69001"}}`)
	var refNs float64
	for _, bc := range []struct {
		name string
		f    func([]byte) []byte
	}{
		{"reference", func(in []byte) []byte { return referenceBody(paths, in) }},
		{"scan", r.Body},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if out := bc.f(body); len(out) == len(body) {
					b.Fatal("nothing was redacted")
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if bc.name == "reference" {
				refNs = ns
			} else if refNs > 0 {
				b.ReportMetric(ns/refNs, "x-reference")
			}
		})
	}
}
