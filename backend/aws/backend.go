package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cutover-dev/cutover"
)

// Backend is an open AWS backend: SQS queues, one DynamoDB table and one S3
// bucket. Opening it sends no request; `cutover init` (Init) creates the
// resources.
type Backend struct {
	cfg    cutover.BackendConfig
	opt    Options
	acct   *accounting
	sqs    *sqs.Client
	ddb    *dynamodb.Client
	s3     *s3.Client
	queue  *Queue
	table  *Table
	bucket *Bucket
	arch   *Archive

	closeOnce sync.Once
}

// Open configures clients for the resources named in bc (region, endpoints,
// table, bucket, queue prefix). Credentials come from opt.Credentials or
// the SDK's default chain.
func Open(ctx context.Context, bc cutover.BackendConfig, opt Options) (*Backend, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	switch {
	case bc.Table == "":
		return nil, errors.New("aws: open: backend.table is empty")
	case bc.Bucket == "":
		return nil, errors.New("aws: open: backend.bucket is empty")
	}
	if bc.Region == "" {
		bc.Region = cutover.DefaultRegion
	}
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRegion(bc.Region),
		config.WithRetryer(retryer(opt)),
	}
	if opt.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(opt.Credentials))
	}
	loadOpts = append(loadOpts, config.WithHTTPClient(defaultHTTPClient()))
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("aws: open: %w", err)
	}
	if opt.HTTPClient != nil {
		// Set after loading: the shared config may customise the default
		// client (a CA bundle), which a caller's client is not subject to.
		awsCfg.HTTPClient = opt.HTTPClient
	}
	b := &Backend{cfg: bc, opt: opt, acct: newAccounting(opt.Registerer)}
	awsCfg.APIOptions = append(awsCfg.APIOptions, b.acct.apiOption)
	endpoint := func(specific string) *string {
		if specific != "" {
			return &specific
		}
		if bc.Endpoint != "" {
			return &bc.Endpoint
		}
		return nil
	}
	b.sqs = sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = endpoint(bc.SQSEndpoint) })
	b.ddb = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = endpoint(bc.DynamoDBEndpoint)
		// DynamoDB sends a CRC32 of every response; servers behind a custom
		// endpoint (DynamoDB Local) do not, and the SDK would then warn on
		// every response that the checksum 0 does not match.
		o.DisableValidateResponseChecksum = o.BaseEndpoint != nil
	})
	pathStyle := bc.Endpoint != "" || bc.S3Endpoint != ""
	if bc.PathStyle != nil {
		pathStyle = *bc.PathStyle
	}
	b.s3 = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.BaseEndpoint = endpoint(bc.S3Endpoint)
		o.UsePathStyle = pathStyle
		// Checksums only when S3 requires them: local servers need not
		// implement the newer trailing-checksum encoding.
		o.RequestChecksumCalculation = sdkaws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = sdkaws.ResponseChecksumValidationWhenRequired
	})
	b.queue = newQueue(b.sqs, bc.QueuePrefix, opt)
	b.bucket = newBucket(b.s3, bc.Bucket)
	b.table = newTable(b.ddb, bc.Table, b.bucket, opt)
	b.arch = newArchive(b.table, b.bucket, opt)
	return b, nil
}

// defaultHTTPClient keeps enough idle connections for many concurrent
// requests to the three service endpoints.
func defaultHTTPClient() sdkaws.HTTPClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 512
		t.MaxIdleConnsPerHost = 256
	})
}

// Stores bundles the backend's implementations. Close flushes the archive
// buffer and pending batches; it does not delete anything.
func (b *Backend) Stores() cutover.Stores {
	return cutover.Stores{
		Queue:       b.queue,
		Idempotency: b.table,
		Transitions: b.table,
		Archive:     b.arch,
		Outcomes:    b.table,
		Comparisons: b.table,
		Blobs:       b.bucket,
		Flags:       b.table,
		Close:       b.Close,
	}
}

// Queue, Table, Bucket and Archive return the backend's parts.
func (b *Backend) Queue() *Queue     { return b.queue }
func (b *Backend) Table() *Table     { return b.table }
func (b *Backend) Bucket() *Bucket   { return b.bucket }
func (b *Backend) Archive() *Archive { return b.arch }

// Requests returns what the backend has sent so far.
func (b *Backend) Requests() Snapshot { return b.acct.snapshot() }

// Close drains: it writes buffered archive events and sends pending
// batches, then refuses further calls. Safe to call twice.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.arch.close()
		b.queue.close()
	})
	return nil
}
