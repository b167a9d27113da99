package backendtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/cutover-dev/cutover"
)

func testBlobs(t *testing.T, s cutover.Stores) {
	st := s.Blobs
	big := make([]byte, 1<<20)
	_, _ = rand.Read(big)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"text", []byte(`{"order_ref":"r-1","note":"` + uniq("unique") + `"}`)},
		{"binary", append([]byte{0x00, 0xff, 0xfe, 0x80}, uniq("bin")...)},
		{"1 MiB", big},
		{"empty", []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ref, err := st.PutBlob(ctx, tc.data)
			if err != nil {
				t.Fatalf("PutBlob: %v", err)
			}
			if want := cutover.BlobRef(tc.data); ref != want {
				t.Errorf("PutBlob returned %q, want BlobRef(data) = %q", ref, want)
			}
			again, err := st.PutBlob(ctx, tc.data)
			if err != nil || again != ref {
				t.Errorf("PutBlob of the same data again: %q, %v; want %q, nil", again, err, ref)
			}
			got, err := st.Blob(ctx, ref)
			if err != nil {
				t.Fatalf("Blob: %v", err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Errorf("Blob returned %d bytes that differ from the %d stored", len(got), len(tc.data))
			}
		})
	}
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		_, err := st.Blob(testContext(t), cutover.BlobRef([]byte(uniq("never stored"))))
		if !errors.Is(err, cutover.ErrNotFound) {
			t.Errorf("Blob of an unknown ref: %v, want ErrNotFound", err)
		}
	})
}
