package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/aws"
	"github.com/cutover-dev/cutover/internal/localaws"
)

// awsMetrics serves the Prometheus metrics of an AWS backend that has
// created its resources and sent a little of every kind of traffic (SQS,
// DynamoDB reads and writes, S3 PUT and GET) to local AWS servers, so that
// the pipeline dashboard's AWS panels have real series from the real
// request accounting. The proxy and worker processes of the test run the
// embedded backend; this backend, in the test's process, is what gives the
// AWS panels their series without a second set of processes.
type awsMetrics struct {
	addr string
	done chan error // receives nil once the traffic was sent, or why not
}

func startAWSMetrics(t *testing.T, ctx context.Context) *awsMetrics {
	t.Helper()
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	m := &awsMetrics{addr: strings.TrimPrefix(srv.URL, "http://"), done: make(chan error, 1)}
	logs := &syncBuffer{}
	var mu sync.Mutex
	var servers *localaws.Servers
	var backend *aws.Backend
	finished := make(chan struct{})
	t.Cleanup(func() {
		<-finished // ctx is canceled by now: the setup ends quickly
		mu.Lock()
		defer mu.Unlock()
		if backend != nil {
			backend.Close()
		}
		if servers != nil {
			servers.Stop()
		}
		if t.Failed() {
			t.Logf("local AWS servers output:\n%s", logs.String())
		}
	})
	go func() {
		defer close(finished)
		m.done <- func() error {
			s, err := localaws.Start(ctx, logs)
			mu.Lock()
			servers = s
			mu.Unlock()
			if err != nil {
				return err
			}
			id := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
			cfg, err := cutover.Parse([]byte(fmt.Sprintf(`
legacy: http://127.0.0.1:1
backend:
  kind: aws
  sqs_endpoint: %s
  dynamodb_endpoint: %s
  s3_endpoint: %s
  table: cutover-prom-%s
  bucket: cutover-prom-%s
  queue_prefix: prom%s-
workflows:
  - name: orders
    route: POST /orders
    target: http://127.0.0.1:1/orders
`, s.SQS, s.DynamoDB, s.S3, id, id, id)))
			if err != nil {
				return fmt.Errorf("config: %w", err)
			}
			b, err := aws.Open(ctx, cfg.Backend, aws.Options{
				Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
				Registerer:  reg, RetryBase: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
			})
			if err != nil {
				return fmt.Errorf("open: %w", err)
			}
			mu.Lock()
			backend = b
			mu.Unlock()
			if err := b.Init(ctx, cfg, false, io.Discard); err != nil {
				return fmt.Errorf("init: %w", err)
			}
			return awsTraffic(ctx, b.Stores())
		}()
	}()
	return m
}

// awsTraffic sends, receives and deletes a message, writes and reads a
// flag, and stores and reads a blob.
func awsTraffic(ctx context.Context, st cutover.Stores) error {
	q := cutover.QueueName("orders", cutover.RespondStep)
	if err := st.Queue.Send(ctx, q, []cutover.OutgoingMessage{{ID: "m1", Body: []byte(`{"n":1}`)}}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	var msgs []cutover.Message
	for len(msgs) == 0 { // long polls until the message is visible, or ctx ends
		var err error
		if msgs, err = st.Queue.Receive(ctx, q, cutover.ReceiveOptions{Max: 1, Visibility: 30 * time.Second, Wait: time.Second}); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
	}
	if err := st.Queue.Delete(ctx, q, []string{msgs[0].Receipt}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	f := cutover.Flag{Workflow: "orders", Mode: cutover.ModeShadow, Version: 1, UpdatedAt: time.Now().UTC(), UpdatedBy: "test", Reason: "prometheus test"}
	if err := st.Flags.SetFlag(ctx, f, cutover.FlagChange{Workflow: "orders", Version: 1, At: f.UpdatedAt, By: "test",
		Reason: f.Reason, FromMode: cutover.ModeShadow, ToMode: cutover.ModeShadow}); err != nil {
		return fmt.Errorf("set flag: %w", err)
	}
	if _, err := st.Flags.Flags(ctx); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	ref, err := st.Blobs.PutBlob(ctx, bytes.Repeat([]byte("x"), 1024))
	if err != nil {
		return fmt.Errorf("put blob: %w", err)
	}
	if _, err := st.Blobs.Blob(ctx, ref); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}
