package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/embedded"
	"github.com/cutover-dev/cutover/examples/orders"
	"github.com/cutover-dev/cutover/pipeline"
)

func newDemoCmd(g *globals) *cobra.Command {
	var events int
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole loop in one process on the embedded backend, with sample services",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), events, keep)
		},
	}
	cmd.Flags().IntVar(&events, "events", 200, "requests of generated traffic")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo's database and config in ./cutover-demo")
	return cmd
}

// demoServer serves h on a free loopback port until ctx ends.
func demoServer(ctx context.Context, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return "http://" + l.Addr().String(), nil
}

func runDemo(parent context.Context, out io.Writer, n int, keep bool) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("cutover-demo-%d", os.Getpid()))
	if keep {
		dir = "cutover-demo"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	step := func(format string, args ...any) { fmt.Fprintf(out, "==> "+format+"\n", args...) }

	newImpl := orders.New(orders.NewFixed, "new")
	newURL, err := demoServer(ctx, newImpl.Handler())
	if err != nil {
		return err
	}
	step("new implementation listening on %s", newURL)
	cfg, err := cutover.Parse([]byte(fmt.Sprintf(`
legacy: http://127.0.0.1:1
backend: {kind: embedded, path: %s}
worker: {poll_wait: 20ms, concurrency: 16}
workflows:
  - name: create-order
    route: POST /orders
    idempotency_key: header:Idempotency-Key
    target: %s/orders
`, filepath.Join(dir, "cutover.db"), newURL)))
	if err != nil {
		return err
	}
	db, err := embedded.Open(ctx, embedded.Options{Path: cfg.Backend.Path, Durability: cfg.Backend.Durability})
	if err != nil {
		return err
	}
	stores := db.Stores()
	defer stores.Close()
	pub := pipeline.NewPublisher(cfg, pipeline.PublisherStores{Queue: stores.Queue, Archive: stores.Archive, Transitions: stores.Transitions, Blobs: stores.Blobs})
	w, err := pipeline.New(cfg, pipeline.WorkerStores{Queue: stores.Queue, Idempotency: stores.Idempotency, Transitions: stores.Transitions, Outcomes: stores.Outcomes, Blobs: stores.Blobs}, pub, pipeline.Options{})
	if err != nil {
		return err
	}
	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(wctx) }()

	step("publishing %d order events", n)
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		id := cutover.NewEventID()
		key := fmt.Sprintf("order-%04d", i)
		body := fmt.Sprintf(`{"customer_id":"c-%d","items":[{"sku":"sku-%d","qty":%d,"unit_cents":%d}]}`, i%37, i%11, 1+i%3, 199+i)
		ev := &cutover.Event{ID: id, Workflow: "create-order", Step: cutover.RespondStep, Mode: cutover.EventShadow,
			IdempotencyKey: key, CorrelationID: id, ReceivedAt: time.Now().UTC(),
			Request: cutover.Request{Method: "POST", Path: "/orders", Header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {key}}, Body: cutover.Body(body)}}
		if err := pub.Publish(ctx, ev); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			h, err := stores.Transitions.History(ctx, id)
			if err != nil {
				return err
			}
			if s := cutover.StateOf(h); s == cutover.StateSucceeded || s == cutover.StateDeadLettered {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("demo: event %s did not finish in 30s", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	step("all %d events processed; the new implementation answered %d calls", n, newImpl.Calls())
	stopWorker()
	if err := <-workerDone; err != nil {
		return err
	}
	view, err := eventViewFor(ctx, stores, ids[0])
	if err != nil {
		return err
	}
	step("transition log of the first event:")
	view.render(out)
	return nil
}
