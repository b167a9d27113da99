package main

import (
	"context"
	"fmt"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/embedded"
)

// openStores opens the configured backend.
func openStores(ctx context.Context, cfg *cutover.Config) (cutover.Stores, error) {
	switch cfg.Backend.Kind {
	case cutover.BackendEmbedded:
		db, err := embedded.Open(ctx, embedded.Options{Path: cfg.Backend.Path, Durability: cfg.Backend.Durability})
		if err != nil {
			return cutover.Stores{}, err
		}
		return db.Stores(), nil
	}
	return cutover.Stores{}, fmt.Errorf("backend.kind %q is not available in this build", cfg.Backend.Kind)
}
