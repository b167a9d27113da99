package aws

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure Open beyond cutover.BackendConfig. Zero fields take the
// defaults below.
type Options struct {
	// HTTPClient sends every request of the three clients; nil uses a
	// client tuned for many concurrent requests to few hosts. Tests pass one
	// whose transport injects faults.
	HTTPClient *http.Client
	// Credentials signs requests; nil uses the SDK's default chain
	// (environment, shared config, IAM role).
	Credentials sdkaws.CredentialsProvider
	// Registerer receives the request and capacity counters; nil keeps
	// them in process only (Backend.Requests still works).
	Registerer prometheus.Registerer
	// Logger reports what cannot be returned (best-effort exemplar writes);
	// nil discards.
	Logger *slog.Logger

	// Retention is how long records that expire are kept after their last
	// write (the DynamoDB TTL); flags never expire. Default 30 days.
	Retention time.Duration
	// MaxAttempts bounds the attempts of one request, retries of throttling
	// and 5xx answers included; default 10.
	MaxAttempts int
	// RetryBase is the first backoff before retrying a failed request or
	// batch entry (throttling errors wait ten times longer); default 50ms.
	// Backoff doubles per attempt with full jitter up to MaxBackoff.
	RetryBase time.Duration
	// MaxBackoff caps one backoff; default 5s.
	MaxBackoff time.Duration

	// BatchWindow is how long a send, delete or visibility change waits for
	// concurrent calls on the same queue to share its batch request (a full
	// batch of 10 goes at once); default 5ms. Negative sends every call on
	// its own, one request per call (the baseline the benchmark compares
	// against).
	BatchWindow time.Duration
	// DisablePrefetch makes Receive ask SQS for only the messages the
	// caller wants, instead of 10 with the rest kept for the next call.
	DisablePrefetch bool
	// ArchiveMaxEvents and ArchiveMaxDelay bound the buffer of archived
	// events written as one S3 object: it is flushed when it holds that
	// many events or its first event has waited that long. Defaults 500
	// and 20ms.
	ArchiveMaxEvents int
	ArchiveMaxDelay  time.Duration
	// ItemInlineLimit is the largest encoded outcome or comparison kept in
	// its DynamoDB item; larger ones go to S3 as content-addressed blobs
	// (items are limited to 400 KB). Default 8 KiB: above it one S3 PUT
	// ($5 per million) costs less than the write units the value takes in
	// its items (one per KiB, $0.625 per million, paid again by every
	// update of the item: an outcome pair's completing write pays for both
	// sides), while smaller values are not worth an extra round trip.
	ItemInlineLimit int
	// AggregateShards spreads each workflow's per-minute aggregate counters
	// over this many partitions, so that one busy workflow is not bound by
	// one partition's write throughput; reads merge them. Default 4.
	AggregateShards int
}

// Defaults.
const (
	DefaultRetention        = 30 * 24 * time.Hour
	DefaultMaxAttempts      = 10
	DefaultRetryBase        = 50 * time.Millisecond
	DefaultMaxBackoff       = 5 * time.Second
	DefaultBatchWindow      = 5 * time.Millisecond
	DefaultArchiveMaxEvents = 500
	DefaultArchiveMaxDelay  = 20 * time.Millisecond
	DefaultItemInlineLimit  = 8 << 10
	DefaultAggregateShards  = 4

	maxItemInlineLimit = 300 << 10 // leaves room for the rest of a 400 KB item
	maxAggregateShards = 64
)

func (o Options) withDefaults() Options {
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.RetryBase == 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.BatchWindow == 0 {
		o.BatchWindow = DefaultBatchWindow
	}
	if o.ArchiveMaxEvents == 0 {
		o.ArchiveMaxEvents = DefaultArchiveMaxEvents
	}
	if o.ArchiveMaxDelay == 0 {
		o.ArchiveMaxDelay = DefaultArchiveMaxDelay
	}
	if o.ItemInlineLimit == 0 {
		o.ItemInlineLimit = DefaultItemInlineLimit
	}
	if o.AggregateShards == 0 {
		o.AggregateShards = DefaultAggregateShards
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports the first bad field by name. Zero fields are valid: they
// take their defaults.
func (o Options) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("aws: option %s: %s", field, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Retention < 0:
		return bad("Retention", "%v is negative", o.Retention)
	case o.MaxAttempts < 0:
		return bad("MaxAttempts", "%d is negative", o.MaxAttempts)
	case o.RetryBase < 0:
		return bad("RetryBase", "%v is negative", o.RetryBase)
	case o.MaxBackoff < 0:
		return bad("MaxBackoff", "%v is negative", o.MaxBackoff)
	case o.ArchiveMaxEvents < 0:
		return bad("ArchiveMaxEvents", "%d is negative", o.ArchiveMaxEvents)
	case o.ArchiveMaxDelay < 0:
		return bad("ArchiveMaxDelay", "%v is negative", o.ArchiveMaxDelay)
	case o.ItemInlineLimit < 0 || o.ItemInlineLimit > maxItemInlineLimit:
		return bad("ItemInlineLimit", "%d is out of range (0 to %d)", o.ItemInlineLimit, maxItemInlineLimit)
	case o.AggregateShards < 0 || o.AggregateShards > maxAggregateShards:
		return bad("AggregateShards", "%d is out of range (1 to %d)", o.AggregateShards, maxAggregateShards)
	}
	return nil
}
