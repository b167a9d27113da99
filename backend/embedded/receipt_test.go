package embedded

import (
	"errors"
	"testing"

	"github.com/cutover-dev/cutover"
)

func TestReceiptRoundTrip(t *testing.T) {
	for _, tc := range []struct{ seq, token int64 }{
		{1, 1}, {42, -1}, {1 << 40, 1<<63 - 1}, {7, -1 << 63},
	} {
		r := formatReceipt(tc.seq, tc.token)
		seq, token, err := parseReceipt(r)
		if err != nil || seq != tc.seq || token != tc.token {
			t.Errorf("parseReceipt(formatReceipt(%d, %d) = %q) = %d, %d, %v", tc.seq, tc.token, r, seq, token, err)
		}
	}
	for _, bad := range []string{"", ".", "1", "1.", ".1", "1.0", "!.1", "1.~", "1.1.1", "99999999999999999999.1"} {
		if _, _, err := parseReceipt(bad); !errors.Is(err, cutover.ErrStaleReceipt) {
			t.Errorf("parseReceipt(%q): %v, want an error wrapping ErrStaleReceipt", bad, err)
		}
	}
}

// FuzzParseReceipt: any string either fails cleanly or is the formatting of
// what it parses to.
func FuzzParseReceipt(f *testing.F) {
	for _, s := range []string{"1.1", "zz.-1", "a.b", "", "1.0", "-1.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		seq, token, err := parseReceipt(s)
		if err != nil {
			if !errors.Is(err, cutover.ErrStaleReceipt) {
				t.Fatalf("parseReceipt(%q): %v does not wrap ErrStaleReceipt", s, err)
			}
			return
		}
		if token == 0 {
			t.Fatalf("parseReceipt(%q) accepted token 0", s)
		}
		again, token2, err := parseReceipt(formatReceipt(seq, token))
		if err != nil || again != seq || token2 != token {
			t.Fatalf("round trip of %q: %d, %d, %v; want %d, %d", s, again, token2, err, seq, token)
		}
	})
}
