package proxy

import (
	"fmt"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/redact"
)

// workflow is the proxy's compiled view of one configured workflow.
type workflow struct {
	name         string
	method       string
	pattern      string
	safe         bool
	accepted     bool // response: accepted
	awaitTimeout time.Duration
	idem         cutover.KeySpec
	bucket       cutover.KeySpec // the idempotency key spec when bucket_by is unset
	redactor     *redact.Redactor
	m            *routeMetrics
}

func compileWorkflow(cfg *cutover.Config, w *cutover.WorkflowConfig, m *metrics) (*workflow, error) {
	if w.Method() == "" {
		return nil, fmt.Errorf("workflow %s: route %q is not parsed; validate the config first", w.Name, w.Route)
	}
	r, err := redact.New(cfg.Proxy.Redact, w.Redact)
	if err != nil {
		return nil, fmt.Errorf("workflow %s: %w", w.Name, err)
	}
	bucket := w.BucketKeySpec()
	if bucket.Source == cutover.KeyFromEventID {
		bucket = w.IdempotencyKeySpec() // the bucketing key defaults to the idempotency key
	}
	return &workflow{
		name: w.Name, method: w.Method(), pattern: w.Pattern(),
		safe: w.Safe, accepted: w.Response == cutover.ResponseAccepted, awaitTimeout: w.AwaitTimeout.D(),
		idem: w.IdempotencyKeySpec(), bucket: bucket, redactor: r, m: m.route(w.Name),
	}, nil
}

// bucketNeedsBody reports whether the route decision has to read the body.
func (w *workflow) bucketNeedsBody() bool { return w.bucket.Source == cutover.KeyFromJSON }
