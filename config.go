package cutover

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the one YAML file every cutover process reads. Every field has a
// default (SetDefaults) and Validate names any bad field.
type Config struct {
	Listen      string             `yaml:"listen"` // the proxy
	Legacy      string             `yaml:"legacy"` // base URL of the existing service
	Admin       AdminConfig        `yaml:"admin"`
	Backend     BackendConfig      `yaml:"backend"`
	Proxy       ProxyConfig        `yaml:"proxy"`
	Worker      WorkerConfig       `yaml:"worker"`
	Comparator  ComparatorConfig   `yaml:"comparator"`
	Log         LogConfig          `yaml:"log"`
	Downstreams []DownstreamConfig `yaml:"downstreams"`
	Workflows   []WorkflowConfig   `yaml:"workflows"`
}

// AdminConfig is the admin listener: API, /metrics, UI.
type AdminConfig struct {
	Listen     string `yaml:"listen"`
	TokensFile string `yaml:"tokens_file"` // bearer tokens with roles; or env CUTOVER_ADMIN_TOKEN
}

// Backend kinds.
const (
	BackendEmbedded = "embedded"
	BackendAWS      = "aws"
)

// BackendConfig selects and configures the storage backend.
type BackendConfig struct {
	Kind string `yaml:"kind"` // embedded | aws

	// embedded
	Path string `yaml:"path"` // SQLite file
	// Durability is "full" (fsync the WAL at every group commit: survives
	// power loss) or "normal" (survives a process crash, not power loss).
	Durability string `yaml:"durability"`

	// aws
	Region           string `yaml:"region"`
	Endpoint         string `yaml:"endpoint"` // for all three services (local servers)
	SQSEndpoint      string `yaml:"sqs_endpoint"`
	DynamoDBEndpoint string `yaml:"dynamodb_endpoint"`
	S3Endpoint       string `yaml:"s3_endpoint"`
	Table            string `yaml:"table"`
	Bucket           string `yaml:"bucket"`
	QueuePrefix      string `yaml:"queue_prefix"`
	PathStyle        *bool  `yaml:"path_style"` // default: true when an S3 endpoint is set
}

// ProxyConfig tunes the proxy.
type ProxyConfig struct {
	CaptureLimit     ByteSize `yaml:"capture_limit"`  // bodies above it pass through unmirrored
	Buffer           int      `yaml:"buffer"`         // shadow events waiting to be written; full = drop
	BatchSize        int      `yaml:"batch_size"`     // events per backend write
	BatchDelay       Duration `yaml:"batch_delay"`    // longest wait to fill a batch
	LegacyTimeout    Duration `yaml:"legacy_timeout"` // whole legacy round trip
	IdleConnsPerHost int      `yaml:"idle_conns_per_host"`
	StatusPrefix     string   `yaml:"status_prefix"` // GET {prefix}/requests/{id}
	// LivePublishTimeout bounds publishing a live event; a write workflow
	// whose publish does not finish in time answers 503 (the client
	// retries with its key), a safe one falls back to legacy.
	LivePublishTimeout Duration     `yaml:"live_publish_timeout"`
	FlagRefresh        Duration     `yaml:"flag_refresh"`
	Redact             RedactConfig `yaml:"redact"` // for every workflow, added to each workflow's own
}

// WorkerConfig tunes the worker runtime; workflows and steps may override
// concurrency, attempts and timeouts.
type WorkerConfig struct {
	MetricsListen string        `yaml:"metrics_listen"`
	Concurrency   int           `yaml:"concurrency"`  // per step
	MaxAttempts   int           `yaml:"max_attempts"` // then the DLQ
	Visibility    Duration      `yaml:"visibility"`   // lease; extended while a job runs
	Backoff       BackoffConfig `yaml:"backoff"`
	Timeout       Duration      `yaml:"timeout"` // one attempt
	PollWait      Duration      `yaml:"poll_wait"`
	ShutdownGrace Duration      `yaml:"shutdown_grace"` // in-flight jobs get this long, then are released
	InlineLimit   ByteSize      `yaml:"inline_limit"`   // larger bodies go to the blob store (claim check)
	MaxBody       ByteSize      `yaml:"max_body"`       // larger events are refused
}

// BackoffConfig is exponential backoff with jitter.
type BackoffConfig struct {
	Initial    Duration `yaml:"initial"`
	Max        Duration `yaml:"max"`
	Multiplier float64  `yaml:"multiplier"`
	Jitter     float64  `yaml:"jitter"` // 0..1: fraction of the delay drawn at random
}

// ComparatorConfig tunes the comparator.
type ComparatorConfig struct {
	AsyncDeadline Duration `yaml:"async_deadline"` // no async outcome by then: async_missing
	SweepInterval Duration `yaml:"sweep_interval"`
}

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // json | text
}

// DownstreamConfig caps concurrent calls to one dependency across all steps
// that name it, so one slow dependency cannot starve the others.
type DownstreamConfig struct {
	Name        string `yaml:"name"`
	Concurrency int    `yaml:"concurrency"`
}

// Response modes of live serving.
const (
	ResponseAwait    = "await"    // wait for the async outcome up to await_timeout, then 202
	ResponseAccepted = "accepted" // 202 with a status URL at once
)

// WorkflowConfig is one migrated workflow: its route, how it is keyed, its
// steps, and how its outcomes are compared.
type WorkflowConfig struct {
	Name           string        `yaml:"name"`
	Route          string        `yaml:"route"` // "POST /orders", "GET /orders/{id}"
	Mode           Mode          `yaml:"mode"`  // initial; the flag store wins once a flag exists
	Percent        float64       `yaml:"percent"`
	Safe           bool          `yaml:"safe"`     // read-only: may call legacy in shadow when live
	Response       string        `yaml:"response"` // await | accepted
	AwaitTimeout   Duration      `yaml:"await_timeout"`
	IdempotencyKey string        `yaml:"idempotency_key"`
	BucketBy       string        `yaml:"bucket_by"`
	Salt           string        `yaml:"salt"`   // bucketing salt; default the name
	Target         string        `yaml:"target"` // HTTP target of the respond step
	Timeout        Duration      `yaml:"timeout"`
	Concurrency    int           `yaml:"concurrency"`
	MaxAttempts    int           `yaml:"max_attempts"`
	Downstream     string        `yaml:"downstream"`
	FanOut         []string      `yaml:"fan_out"` // steps that also receive the intake event
	Steps          []StepConfig  `yaml:"steps"`
	Redact         RedactConfig  `yaml:"redact"`
	Compare        CompareConfig `yaml:"compare"`
	Gate           GateConfig    `yaml:"gate"`

	method, pattern string
	idemKey, bucket KeySpec
}

// StepConfig is a step besides respond: it receives the intake event (when
// listed in fan_out) or follow-up events that handlers emit.
type StepConfig struct {
	Name        string   `yaml:"name"`
	Target      string   `yaml:"target"`
	Timeout     Duration `yaml:"timeout"`
	Concurrency int      `yaml:"concurrency"`
	MaxAttempts int      `yaml:"max_attempts"`
	Downstream  string   `yaml:"downstream"`
}

// RedactConfig lists what is removed before anything is stored. Authorization,
// Cookie and Set-Cookie are always redacted.
type RedactConfig struct {
	Headers []string `yaml:"headers"`
	JSON    []string `yaml:"json"`
}

// CompareConfig holds a workflow's comparison rules.
type CompareConfig struct {
	Ignore             []string        `yaml:"ignore"`
	Unordered          []UnorderedRule `yaml:"unordered"`
	NumericTolerance   float64         `yaml:"numeric_tolerance"`
	TimestampTolerance Duration        `yaml:"timestamp_tolerance"`
	Headers            []string        `yaml:"headers"`    // compared headers (allow-list)
	StatusMap          map[int]int     `yaml:"status_map"` // legacy status -> expected async status
}

// UnorderedRule says an array's order does not matter; with Key, elements
// are matched by that field.
type UnorderedRule struct {
	Path string `yaml:"path"`
	Key  string `yaml:"key"`
}

// GateConfig is a workflow's readiness gate for leaving shadow.
type GateConfig struct {
	MinComparisons  int64    `yaml:"min_comparisons"`
	MinMatchRate    float64  `yaml:"min_match_rate"` // 0..1
	MaxAsyncErrors  int64    `yaml:"max_async_errors"`
	RequireEmptyDLQ *bool    `yaml:"require_empty_dlq"`
	Window          Duration `yaml:"window"`
}

// Load reads, defaults and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads, defaults and validates a config from YAML. Unknown keys are
// errors: a typo must not silently fall back to a default.
func Parse(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // empty: all defaults
		return nil, yamlError(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var yamlFieldRe = regexp.MustCompile(`field (\S+) not found in type cutover\.(\w+)`)

// yamlError rewrites yaml.v3's Go-typed messages into config terms.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = yamlFieldRe.ReplaceAllString(msg, `unknown key "$1" in $2`)
	for _, r := range []struct{ from, to string }{
		{"in Config", "at the top level"}, {"in AdminConfig", "in admin"}, {"in BackendConfig", "in backend"},
		{"in ProxyConfig", "in proxy"}, {"in WorkerConfig", "in worker"}, {"in ComparatorConfig", "in comparator"},
		{"in WorkflowConfig", "in a workflow"}, {"in StepConfig", "in a step"}, {"in CompareConfig", "in compare"},
		{"in GateConfig", "in gate"}, {"in RedactConfig", "in redact"}, {"in BackoffConfig", "in worker.backoff"},
		{"in LogConfig", "in log"}, {"in DownstreamConfig", "in a downstream"}, {"in UnorderedRule", "in compare.unordered"},
		{"cutover.", ""},
	} {
		msg = strings.ReplaceAll(msg, r.from, r.to)
	}
	return errors.New(msg)
}

// Workflow returns the workflow named name.
func (c *Config) Workflow(name string) (*WorkflowConfig, bool) {
	for i := range c.Workflows {
		if c.Workflows[i].Name == name {
			return &c.Workflows[i], true
		}
	}
	return nil, false
}

// Method and Pattern split Route; valid after Validate.
func (w *WorkflowConfig) Method() string  { return w.method }
func (w *WorkflowConfig) Pattern() string { return w.pattern }

// IdempotencyKeySpec and BucketKeySpec are the parsed key specs; valid after
// Validate.
func (w *WorkflowConfig) IdempotencyKeySpec() KeySpec { return w.idemKey }
func (w *WorkflowConfig) BucketKeySpec() KeySpec      { return w.bucket }

// StepNames lists the workflow's steps, respond first.
func (w *WorkflowConfig) StepNames() []string {
	names := []string{RespondStep}
	for _, s := range w.Steps {
		names = append(names, s.Name)
	}
	return names
}

// Step returns the effective settings of a step, respond included, with the
// workflow's and worker's defaults filled in.
func (c *Config) Step(workflow, step string) (StepConfig, bool) {
	w, ok := c.Workflow(workflow)
	if !ok {
		return StepConfig{}, false
	}
	s := StepConfig{Name: RespondStep, Target: w.Target, Timeout: w.Timeout, Concurrency: w.Concurrency, MaxAttempts: w.MaxAttempts, Downstream: w.Downstream}
	if step != RespondStep {
		found := false
		for _, st := range w.Steps {
			if st.Name == step {
				s, found = st, true
				break
			}
		}
		if !found {
			return StepConfig{}, false
		}
	}
	if s.Timeout == 0 {
		s.Timeout = c.Worker.Timeout
	}
	if s.Concurrency == 0 {
		s.Concurrency = c.Worker.Concurrency
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = c.Worker.MaxAttempts
	}
	return s, true
}

// GateDefaults are the design's readiness gate: 99.9% over 1000 comparisons
// in a day, no async errors, DLQ empty.
var gateDefaults = GateConfig{MinComparisons: 1000, MinMatchRate: 0.999, MaxAsyncErrors: 0, Window: Duration(24 * time.Hour)}

// RequiresEmptyDLQ reports the gate's DLQ condition (default true).
func (g GateConfig) RequiresEmptyDLQ() bool { return g.RequireEmptyDLQ == nil || *g.RequireEmptyDLQ }
