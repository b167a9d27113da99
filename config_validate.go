package cutover

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/cutover-dev/cutover/jsonpath"
)

// FieldError names one bad config field.
type FieldError struct {
	Field string // e.g. workflows[0].compare.ignore[2]
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// ValidationError lists every bad field of a config, so a user fixes them in
// one pass.
type ValidationError struct{ Fields []*FieldError }

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return "invalid config: " + strings.Join(msgs, "; ")
}

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	methodsRe = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$`)
	tableRe   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	prefixRe  = regexp.MustCompile(`^[a-zA-Z0-9_-]{0,30}$`)
)

type validator struct{ errs []*FieldError }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks every field after SetDefaults and returns a
// *ValidationError naming each bad one. It also parses routes and key specs
// for the accessors that need them.
func (c *Config) Validate() error {
	v := &validator{}
	v.addr("listen", c.Listen)
	v.url("legacy", c.Legacy, false)
	v.addr("admin.listen", c.Admin.Listen)
	c.validateBackend(v)

	p := c.Proxy
	v.positive("proxy.capture_limit", int64(p.CaptureLimit))
	v.positive("proxy.buffer", int64(p.Buffer))
	v.positive("proxy.batch_size", int64(p.BatchSize))
	v.positive("proxy.batch_delay", int64(p.BatchDelay))
	v.positive("proxy.legacy_timeout", int64(p.LegacyTimeout))
	v.positive("proxy.idle_conns_per_host", int64(p.IdleConnsPerHost))
	v.positive("proxy.flag_refresh", int64(p.FlagRefresh))
	v.positive("proxy.live_publish_timeout", int64(p.LivePublishTimeout))
	if !strings.HasPrefix(p.StatusPrefix, "/") || strings.HasSuffix(p.StatusPrefix, "/") {
		v.add("proxy.status_prefix", "%q must start with / and not end with /", p.StatusPrefix)
	}
	v.redact("proxy.redact", p.Redact)

	w := c.Worker
	v.addr("worker.metrics_listen", w.MetricsListen)
	v.positive("worker.concurrency", int64(w.Concurrency))
	v.positive("worker.max_attempts", int64(w.MaxAttempts))
	v.positive("worker.visibility", int64(w.Visibility))
	v.positive("worker.backoff.initial", int64(w.Backoff.Initial))
	if w.Backoff.Max < w.Backoff.Initial {
		v.add("worker.backoff.max", "%s is below worker.backoff.initial (%s)", w.Backoff.Max, w.Backoff.Initial)
	}
	if w.Backoff.Multiplier < 1 {
		v.add("worker.backoff.multiplier", "%v must be at least 1", w.Backoff.Multiplier)
	}
	if w.Backoff.Jitter < 0 || w.Backoff.Jitter > 1 {
		v.add("worker.backoff.jitter", "%v must be between 0 and 1", w.Backoff.Jitter)
	}
	v.positive("worker.timeout", int64(w.Timeout))
	v.positive("worker.poll_wait", int64(w.PollWait))
	v.positive("worker.shutdown_grace", int64(w.ShutdownGrace))
	v.positive("worker.inline_limit", int64(w.InlineLimit))
	if w.MaxBody < w.InlineLimit {
		v.add("worker.max_body", "%s is below worker.inline_limit (%s)", w.MaxBody, w.InlineLimit)
	}
	v.positive("comparator.async_deadline", int64(c.Comparator.AsyncDeadline))
	v.positive("comparator.sweep_interval", int64(c.Comparator.SweepInterval))
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "%q is unknown (want debug, info, warn or error)", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		v.add("log.format", "%q is unknown (want json or text)", c.Log.Format)
	}

	downstreams := map[string]bool{}
	for i, d := range c.Downstreams {
		f := fmt.Sprintf("downstreams[%d]", i)
		if !nameRe.MatchString(d.Name) {
			v.add(f+".name", "%q must be 1-40 lowercase letters, digits, - or _", d.Name)
		} else if downstreams[d.Name] {
			v.add(f+".name", "%q is defined twice", d.Name)
		}
		downstreams[d.Name] = true
		v.positive(f+".concurrency", int64(d.Concurrency))
	}

	names := map[string]bool{}
	routes := map[string]string{}
	for i := range c.Workflows {
		c.validateWorkflow(v, i, names, routes, downstreams)
	}
	if len(v.errs) > 0 {
		return &ValidationError{Fields: v.errs}
	}
	return nil
}

func (c *Config) validateBackend(v *validator) {
	b := c.Backend
	switch b.Kind {
	case BackendEmbedded:
		if b.Path == "" {
			v.add("backend.path", "is empty")
		}
		if b.Durability != "full" && b.Durability != "normal" {
			v.add("backend.durability", "%q is unknown (want full or normal)", b.Durability)
		}
	case BackendAWS:
		for _, e := range []struct{ field, val string }{
			{"backend.endpoint", b.Endpoint}, {"backend.sqs_endpoint", b.SQSEndpoint},
			{"backend.dynamodb_endpoint", b.DynamoDBEndpoint}, {"backend.s3_endpoint", b.S3Endpoint},
		} {
			if e.val != "" {
				v.url(e.field, e.val, true)
			}
		}
		if b.Bucket == "" {
			v.add("backend.bucket", "is required for the aws backend")
		}
		if !tableRe.MatchString(b.Table) {
			v.add("backend.table", "%q is not a valid DynamoDB table name", b.Table)
		}
		if !prefixRe.MatchString(b.QueuePrefix) {
			v.add("backend.queue_prefix", "%q must be at most 30 letters, digits, - or _", b.QueuePrefix)
		}
	default:
		v.add("backend.kind", "%q is unknown (want embedded or aws)", b.Kind)
	}
}

func (c *Config) validateWorkflow(v *validator, i int, names map[string]bool, routes map[string]string, downstreams map[string]bool) {
	w := &c.Workflows[i]
	f := fmt.Sprintf("workflows[%d]", i)
	if !nameRe.MatchString(w.Name) {
		v.add(f+".name", "%q must be 1-40 lowercase letters, digits, - or _, starting with a letter or digit", w.Name)
	} else if names[w.Name] {
		v.add(f+".name", "%q is defined twice", w.Name)
	}
	names[w.Name] = true

	method, pattern, ok := strings.Cut(strings.TrimSpace(w.Route), " ")
	pattern = strings.TrimSpace(pattern)
	switch {
	case !ok || !methodsRe.MatchString(method) || !strings.HasPrefix(pattern, "/"):
		v.add(f+".route", "%q must be METHOD /path, e.g. \"POST /orders\" or \"GET /orders/{id}\"", w.Route)
	case routes[method+" "+pattern] != "":
		v.add(f+".route", "%q is also the route of workflow %s", w.Route, routes[method+" "+pattern])
	default:
		w.method, w.pattern = method, pattern
		routes[method+" "+pattern] = w.Name
	}
	if !w.Mode.Valid() {
		v.add(f+".mode", "%q is unknown (want off, shadow, canary or cutover)", w.Mode)
	}
	switch {
	case w.Percent < 0 || w.Percent > 100:
		v.add(f+".percent", "%v is out of range (want 0 to 100)", w.Percent)
	case w.Percent != 0 && w.Mode != ModeCanary:
		v.add(f+".percent", "%v is set but mode is %s (a percent applies to canary only)", w.Percent, w.Mode)
	case w.Mode == ModeCanary && w.Percent == 0:
		v.add(f+".percent", "is 0 with mode canary (give the canary share, e.g. 1)")
	}
	if w.Response != ResponseAwait && w.Response != ResponseAccepted {
		v.add(f+".response", "%q is unknown (want await or accepted)", w.Response)
	}
	v.positive(f+".await_timeout", int64(w.AwaitTimeout))
	var err error
	if w.idemKey, err = ParseKeySpec(w.IdempotencyKey); err != nil {
		v.add(f+".idempotency_key", "%s", err.Error())
	}
	if w.bucket, err = ParseKeySpec(w.BucketBy); err != nil {
		v.add(f+".bucket_by", "%s", err.Error())
	}
	c.validateStep(v, f, StepConfig{Name: RespondStep, Target: w.Target, Timeout: w.Timeout, Concurrency: w.Concurrency, MaxAttempts: w.MaxAttempts, Downstream: w.Downstream}, downstreams, true)
	steps := map[string]bool{RespondStep: true}
	for j, s := range w.Steps {
		sf := fmt.Sprintf("%s.steps[%d]", f, j)
		if !nameRe.MatchString(s.Name) {
			v.add(sf+".name", "%q must be 1-40 lowercase letters, digits, - or _", s.Name)
		} else if steps[s.Name] {
			v.add(sf+".name", "%q is used twice in workflow %s (respond is reserved)", s.Name, w.Name)
		}
		steps[s.Name] = true
		c.validateStep(v, sf, s, downstreams, false)
	}
	for j, s := range w.FanOut {
		if s == RespondStep || !steps[s] {
			v.add(fmt.Sprintf("%s.fan_out[%d]", f, j), "%q is not a step of workflow %s (respond always runs)", s, w.Name)
		}
	}
	v.redact(f+".redact", w.Redact)
	cmp := w.Compare
	for j, p := range cmp.Ignore {
		v.path(fmt.Sprintf("%s.compare.ignore[%d]", f, j), p)
	}
	for j, u := range cmp.Unordered {
		if _, err := jsonpath.Parse(u.Path); err != nil { // $ is fine: a body that is an array
			v.add(fmt.Sprintf("%s.compare.unordered[%d].path", f, j), "%s", err.Error())
		}
	}
	if cmp.NumericTolerance < 0 {
		v.add(f+".compare.numeric_tolerance", "%v must not be negative", cmp.NumericTolerance)
	}
	if cmp.TimestampTolerance < 0 {
		v.add(f+".compare.timestamp_tolerance", "%s must not be negative", cmp.TimestampTolerance)
	}
	for from, to := range cmp.StatusMap {
		if from < 100 || from > 599 || to < 100 || to > 599 {
			v.add(f+".compare.status_map", "%d: %d is not a pair of HTTP status codes", from, to)
		}
	}
	g := w.Gate
	if g.MinComparisons < 0 {
		v.add(f+".gate.min_comparisons", "%d must not be negative", g.MinComparisons)
	}
	if g.MinMatchRate < 0 || g.MinMatchRate > 1 {
		v.add(f+".gate.min_match_rate", "%v is out of range (want 0 to 1, e.g. 0.999)", g.MinMatchRate)
	}
	if g.MaxAsyncErrors < 0 {
		v.add(f+".gate.max_async_errors", "%d must not be negative", g.MaxAsyncErrors)
	}
	v.positive(f+".gate.window", int64(g.Window))
}

func (c *Config) validateStep(v *validator, f string, s StepConfig, downstreams map[string]bool, respond bool) {
	if s.Target != "" {
		v.url(f+".target", s.Target, false)
	}
	v.nonNegative(f+".timeout", int64(s.Timeout))
	v.nonNegative(f+".concurrency", int64(s.Concurrency))
	v.nonNegative(f+".max_attempts", int64(s.MaxAttempts))
	if s.Downstream != "" && !downstreams[s.Downstream] {
		v.add(f+".downstream", "%q is not defined under downstreams", s.Downstream)
	}
}

func (v *validator) redact(f string, r RedactConfig) {
	for j, h := range r.Headers {
		if h == "" || strings.ContainsAny(h, " :\t") {
			v.add(fmt.Sprintf("%s.headers[%d]", f, j), "%q is not a header name", h)
		}
	}
	for j, p := range r.JSON {
		v.path(fmt.Sprintf("%s.json[%d]", f, j), p)
	}
}

func (v *validator) path(f, p string) {
	parsed, err := jsonpath.Parse(p)
	if err != nil {
		v.add(f, "%s", err.Error())
	} else if len(parsed) == 0 {
		v.add(f, "%q names the whole body; name a field", p)
	}
}

func (v *validator) addr(f, a string) {
	if _, _, err := net.SplitHostPort(a); err != nil {
		v.add(f, "%q is not host:port", a)
	}
}

func (v *validator) url(f, raw string, allowEmpty bool) {
	if raw == "" {
		if !allowEmpty {
			v.add(f, "is required (a URL such as http://127.0.0.1:8000)")
		}
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(f, "%q is not an http(s) URL", raw)
	}
}

func (v *validator) positive(f string, n int64) {
	if n <= 0 {
		v.add(f, "must be positive")
	}
}

func (v *validator) nonNegative(f string, n int64) {
	if n < 0 {
		v.add(f, "must not be negative")
	}
}

// FieldErrors returns the field errors of err, if it is a *ValidationError.
func FieldErrors(err error) []*FieldError {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Fields
	}
	return nil
}
