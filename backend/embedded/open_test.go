package embedded

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover"
)

// TestOpenRefusesBadPaths: each error says what is wrong with the path.
func TestOpenRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("this is not a database\n", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"corrupt file", garbage, "not an SQLite database"},
		{"missing directory", filepath.Join(dir, "missing", "cutover.db"), "no such file or directory"},
		{"parent is a file", filepath.Join(notDir, "cutover.db"), "is not a directory"},
		{"path is a directory", dir, "the path is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(context.Background(), Options{Path: tc.path})
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s) succeeded", tc.path)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "embedded: open "+tc.path+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("Open(%s): %q, want it to name the path and say %q", tc.path, msg, tc.want)
			}
		})
	}
}

// TestOpenRefusesNewerSchema: a file written by a later build is not
// touched.
func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cutover.db")
	db, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if db, err := Open(context.Background(), Options{Path: path}); err == nil {
		db.Close()
		t.Fatal("Open of a file with a newer schema succeeded")
	} else if !strings.Contains(err.Error(), "newer than this build knows") {
		t.Errorf("Open: %v, want it to say the schema is newer", err)
	}
}

// TestOpenSetsUpTheFile: WAL mode, the page size, and the schema version
// recorded.
func TestOpenSetsUpTheFile(t *testing.T) {
	db := open(t, Options{})
	ctx := context.Background()
	var mode string
	var page, version int
	if _, err := db.readRow(ctx, `PRAGMA journal_mode`, nil, &mode); err != nil {
		t.Fatal(err)
	}
	if _, err := db.readRow(ctx, `PRAGMA page_size`, nil, &page); err != nil {
		t.Fatal(err)
	}
	if _, err := db.readRow(ctx, `SELECT MAX(version) FROM schema_migrations`, nil, &version); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || page != pageSize || version != SchemaVersion() {
		t.Errorf("journal mode %q, page size %d, schema version %d; want wal, %d, %d", mode, page, version, pageSize, SchemaVersion())
	}
	// Opening an existing file again applies nothing and keeps it usable.
	again, err := Open(ctx, Options{Path: db.Path()})
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer again.Close()
	if err := again.EnsureQueue(ctx, cutover.QueueSpec{Name: "q"}); err != nil {
		t.Fatalf("EnsureQueue through the second handle: %v", err)
	}
}
