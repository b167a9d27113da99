package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/aws"
	"github.com/cutover-dev/cutover/backend/embedded"
	"github.com/cutover-dev/cutover/pipeline"
)

// backendOptions are what a long-running process passes to its backend.
type backendOptions struct {
	registerer prometheus.Registerer // AWS request and capacity counters
	logger     *slog.Logger
}

// openStores opens the configured backend.
func openStores(ctx context.Context, cfg *cutover.Config, opts ...backendOptions) (cutover.Stores, error) {
	var o backendOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	switch cfg.Backend.Kind {
	case cutover.BackendEmbedded:
		db, err := embedded.Open(ctx, embedded.Options{Path: cfg.Backend.Path, Durability: cfg.Backend.Durability})
		if err != nil {
			return cutover.Stores{}, err
		}
		return db.Stores(), nil
	case cutover.BackendAWS:
		b, err := aws.Open(ctx, cfg.Backend, aws.Options{Registerer: o.registerer, Logger: o.logger})
		if err != nil {
			return cutover.Stores{}, err
		}
		return b.Stores(), nil
	}
	return cutover.Stores{}, fmt.Errorf("backend.kind %q is not available in this build", cfg.Backend.Kind)
}

// newPublisher publishes into the backend's queue, archive, logs and blobs.
func newPublisher(cfg *cutover.Config, st cutover.Stores) *pipeline.Publisher {
	return pipeline.NewPublisher(cfg, pipeline.PublisherStores{Queue: st.Queue, Archive: st.Archive, Transitions: st.Transitions, Blobs: st.Blobs, Outcomes: st.Outcomes})
}
