package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Processes that start together (a proxy and a worker) open a new file at
// once: each gets a working database, none a "database is locked".
func TestConcurrentOpenOfANewFile(t *testing.T) {
	ctx := context.Background()
	for round := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("race-%d.db", round))
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := Open(ctx, Options{Path: path, Durability: DurabilityNormal})
				if err == nil {
					err = db.Close()
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
