package embedded

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/backendtest"
)

// open opens a DB on a fresh file in a temp dir; it is closed at cleanup.
func open(t testing.TB, o Options) *DB {
	t.Helper()
	if o.Path == "" {
		o.Path = filepath.Join(t.TempDir(), "cutover.db")
	}
	db, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) cutover.Stores {
		return open(t, Options{}).Stores()
	})
}
