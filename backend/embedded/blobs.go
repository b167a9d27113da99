package embedded

import (
	"context"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// PutBlob stores data under its content address, cutover.BlobRef(data).
// Storing the same bytes again writes nothing.
func (db *DB) PutBlob(ctx context.Context, data []byte) (string, error) {
	ref := cutover.BlobRef(data)
	if data == nil {
		data = []byte{}
	}
	_, err := write(ctx, db, func(x *wtx) (struct{}, error) {
		var one int
		ok, err := x.queryRow(`SELECT 1 FROM blobs WHERE ref = ?`, []any{ref}, &one)
		if err != nil || ok {
			return struct{}{}, err
		}
		_, err = x.exec(`INSERT INTO blobs (ref, data, created_at) VALUES (?, ?, ?)`, ref, data, x.now.UnixNano())
		return struct{}{}, err
	})
	if err != nil {
		return "", fmt.Errorf("embedded: put blob: %w", err)
	}
	return ref, nil
}

// Blob returns the bytes stored under ref, or ErrNotFound.
func (db *DB) Blob(ctx context.Context, ref string) ([]byte, error) {
	var data []byte
	ok, err := db.readRow(ctx, `SELECT data FROM blobs WHERE ref = ?`, []any{ref}, &data)
	if err == nil && !ok {
		err = cutover.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: blob %s: %w", ref, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}
