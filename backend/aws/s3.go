package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cutover-dev/cutover"
)

// Bucket implements cutover.BlobStore on S3 and holds the archive's
// objects. Blobs are content-addressed: blobs/<sha256 hex>, written once
// and never deleted by cutover (a lifecycle rule may expire them after the
// retention).
type Bucket struct {
	client *s3.Client
	name   string

	mu     sync.Mutex
	stored map[string]bool // blob refs this process stored: no second PUT
}

const (
	blobPrefix    = "blobs/"
	archivePrefix = "events/"
	maxStoredRefs = 4096
)

var refRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func newBucket(client *s3.Client, name string) *Bucket {
	return &Bucket{client: client, name: name, stored: map[string]bool{}}
}

var _ cutover.BlobStore = (*Bucket)(nil)

func blobKey(ref string) string { return blobPrefix + strings.TrimPrefix(ref, "sha256:") }

// PutBlob stores data under its content address, cutover.BlobRef(data).
// Storing the same bytes again writes the same object.
func (b *Bucket) PutBlob(ctx context.Context, data []byte) (string, error) {
	ref := cutover.BlobRef(data)
	b.mu.Lock()
	done := b.stored[ref]
	b.mu.Unlock()
	if done {
		return ref, nil
	}
	if err := b.put(ctx, blobKey(ref), data, "application/octet-stream"); err != nil {
		return "", fmt.Errorf("aws: put blob: %w", err)
	}
	b.mu.Lock()
	if len(b.stored) >= maxStoredRefs {
		clear(b.stored)
	}
	b.stored[ref] = true
	b.mu.Unlock()
	return ref, nil
}

// Blob returns the bytes stored under ref, or ErrNotFound.
func (b *Bucket) Blob(ctx context.Context, ref string) ([]byte, error) {
	if !refRe.MatchString(ref) {
		return nil, fmt.Errorf("aws: blob %q: not a sha256:<hex> reference: %w", ref, cutover.ErrNotFound)
	}
	data, err := b.get(ctx, blobKey(ref), "")
	if err != nil {
		return nil, fmt.Errorf("aws: blob %s: %w", ref, err)
	}
	return data, nil
}

func (b *Bucket) put(ctx context.Context, key string, data []byte, contentType string) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &b.name, Key: &key, Body: bytes.NewReader(data), ContentLength: ptr(int64(len(data))), ContentType: &contentType,
	})
	if err != nil {
		return classified(err)
	}
	return nil
}

// get reads an object, or the byte range rng ("bytes=a-b") of it.
// ErrNotFound if it does not exist.
func (b *Bucket) get(ctx context.Context, key, rng string) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: &b.name, Key: &key}
	if rng != "" {
		in.Range = &rng
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) || errorCode(err) == "NoSuchKey" || errorCode(err) == "NotFound" {
			return nil, cutover.ErrNotFound
		}
		return nil, classified(err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}
