package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPrefetch(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		contentLength int64 // -1: unknown (chunked)
		limit         int64
		want          captured
	}{
		{"empty", "", 0, 8, captured{complete: true}},
		{"fits", "abcd", 4, 8, captured{body: []byte("abcd"), complete: true}},
		{"fits, chunked", "abcd", -1, 8, captured{body: []byte("abcd"), complete: true}},
		{"at the limit", "abcdefgh", 8, 8, captured{body: []byte("abcdefgh"), complete: true}},
		{"declared over the limit: nothing read", "abcdefghi", 9, 8, captured{tooLarge: true}},
		{"over the limit, chunked", "abcdefghijkl", -1, 8, captured{tooLarge: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest("POST", "/", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			r.ContentLength = tt.contentLength
			if tt.body == "" {
				r.Body = http.NoBody
			}
			c := prefetch(r, tt.limit)
			got := c.freeze()
			got.eofAt = time.Time{} // when is not the point here
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(captured{}), cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
				t.Errorf("capture (-want +got):\n%s", diff)
			}
			// Whatever was read ahead, the body still yields every byte.
			replay, err := io.ReadAll(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(replay) != tt.body {
				t.Errorf("replayed body %q, want %q", replay, tt.body)
			}
		})
	}
}

func TestPrefetchReadError(t *testing.T) {
	boom := errors.New("client went away")
	r, _ := http.NewRequest("POST", "/", io.MultiReader(strings.NewReader("ab"), &errReader{err: boom}))
	r.ContentLength = -1
	c := prefetch(r, 8)
	if got := c.freeze(); got.complete || got.tooLarge {
		t.Errorf("capture of a failed read = %+v, want incomplete", got)
	}
	b, err := io.ReadAll(r.Body)
	if string(b) != "ab" || !errors.Is(err, boom) {
		t.Errorf("replay = %q, %v; want the bytes read, then the error", b, err)
	}
}

func TestTeeCaptureStopsAtLimit(t *testing.T) {
	c := newCapture(4, -1)
	tee := &teeBody{rc: io.NopCloser(strings.NewReader("abcdefgh")), c: c}
	out, err := io.ReadAll(tee)
	if err != nil || string(out) != "abcdefgh" {
		t.Fatalf("tee passed %q, %v", out, err)
	}
	if got := c.freeze(); !got.tooLarge || got.complete || got.body != nil {
		t.Errorf("capture = %+v, want too large with nothing held", got)
	}
	c.write([]byte("late")) // after freeze: ignored, no race
}

// FuzzPrefetch: for any body and limit, the replay is the body, and the
// capture is complete exactly when the body fits.
func FuzzPrefetch(f *testing.F) {
	f.Add([]byte("hello"), uint16(3), true)
	f.Add([]byte(""), uint16(0), false)
	f.Add(bytes.Repeat([]byte{0}, 300), uint16(299), false)
	f.Fuzz(func(t *testing.T, body []byte, limit uint16, known bool) {
		lim := int64(limit) + 1
		r, _ := http.NewRequest("POST", "/", bytes.NewReader(body))
		r.ContentLength = -1
		if known {
			r.ContentLength = int64(len(body))
		}
		if len(body) == 0 {
			r.Body = http.NoBody
			r.ContentLength = 0
		}
		got := prefetch(r, lim).freeze()
		fits := int64(len(body)) <= lim
		if got.complete != fits || got.tooLarge == fits {
			t.Fatalf("len %d limit %d: complete %v tooLarge %v", len(body), lim, got.complete, got.tooLarge)
		}
		if fits && !bytes.Equal(got.body, body) {
			t.Fatalf("captured %q, want %q", got.body, body)
		}
		replay, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(replay, body) {
			t.Fatalf("replay %q, %v; want %q", replay, err, body)
		}
	})
}
