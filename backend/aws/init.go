package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/pipeline"
)

// Init creates what the configuration needs on AWS: every step's queue and
// dead-letter queue with its redrive policy, the table with its indexes and
// TTL, and the bucket. What exists is left as it is (its redrive policy is
// set), so running it again is fine. With dryRun it only looks, and prints
// what it would create. Credentials come from the SDK's default chain.
func Init(ctx context.Context, cfg *cutover.Config, dryRun bool, out io.Writer) error {
	b, err := Open(ctx, cfg.Backend, Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	return b.Init(ctx, cfg, dryRun, out)
}

// Init is the package-level Init on an open backend.
func (b *Backend) Init(ctx context.Context, cfg *cutover.Config, dryRun bool, out io.Writer) error {
	verb := "created"
	if dryRun {
		verb = "would create"
	}
	say := func(format string, args ...any) error {
		_, err := fmt.Fprintf(out, format+"\n", args...)
		return err
	}
	for _, spec := range pipeline.Topology(cfg) {
		name := b.queue.sqsName(spec.Name)
		exists, err := b.queueExists(ctx, spec.Name)
		if err != nil {
			return fmt.Errorf("aws: init: queue %s: %w", name, err)
		}
		redrive := ""
		if spec.DeadLetter != "" {
			redrive = fmt.Sprintf(" (dead-letter %s after %d receives)", b.queue.sqsName(spec.DeadLetter), spec.MaxReceiveCount)
		}
		state := verb
		if exists {
			state = "exists"
			if redrive != "" && !dryRun {
				state = "exists, redrive set"
			}
		}
		if !dryRun {
			if err := b.queue.EnsureQueue(ctx, spec); err != nil {
				return fmt.Errorf("aws: init: %w", err)
			}
		}
		if err := say("queue  %s: %s%s", name, state, redrive); err != nil {
			return err
		}
	}
	state, err := b.initTable(ctx, dryRun)
	if err != nil {
		return fmt.Errorf("aws: init: table %s: %w", b.cfg.Table, err)
	}
	if err := say("table  %s: %s (keys pk/sk, index %s, TTL on %q, on-demand)", b.cfg.Table, state, indexGSI1, attrTTL); err != nil {
		return err
	}
	state, err = b.initBucket(ctx, dryRun)
	if err != nil {
		return fmt.Errorf("aws: init: bucket %s: %w", b.cfg.Bucket, err)
	}
	return say("bucket %s: %s", b.cfg.Bucket, state)
}

func (b *Backend) queueExists(ctx context.Context, name string) (bool, error) {
	_, err := b.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: ptr(b.queue.sqsName(name))})
	switch {
	case err == nil:
		return true, nil
	case queueMissing(err):
		return false, nil
	}
	return false, classified(err)
}

// tableSpec is the table cutover needs.
func tableSpec(name string) *dynamodb.CreateTableInput {
	s := func(n string) ddbtypes.AttributeDefinition {
		return ddbtypes.AttributeDefinition{AttributeName: ptr(n), AttributeType: ddbtypes.ScalarAttributeTypeS}
	}
	keys := func(pk, sk string) []ddbtypes.KeySchemaElement {
		return []ddbtypes.KeySchemaElement{{AttributeName: ptr(pk), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: ptr(sk), KeyType: ddbtypes.KeyTypeRange}}
	}
	// The one index lists comparisons by workflow and carries what their
	// queries filter on; the comparisons themselves are read from the table.
	return &dynamodb.CreateTableInput{
		TableName:   ptr(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			s(attrPK), s(attrSK), s(attrG1PK), s(attrG1SK),
		},
		KeySchema: keys(attrPK, attrSK),
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{
			{IndexName: ptr(indexGSI1), KeySchema: keys(attrG1PK, attrG1SK), Projection: &ddbtypes.Projection{
				ProjectionType:   ddbtypes.ProjectionTypeInclude,
				NonKeyAttributes: []string{attrWorkflow, attrVerdict, attrEpoch, attrCompared},
			}},
		},
	}
}

// initTable creates the table if needed, waits for it, and enables TTL.
func (b *Backend) initTable(ctx context.Context, dryRun bool) (string, error) {
	desc, err := b.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: ptr(b.cfg.Table)})
	var nf *ddbtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		if dryRun {
			return "would create", nil
		}
		out, err := b.ddb.CreateTable(ctx, tableSpec(b.cfg.Table))
		var inUse *ddbtypes.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) { // created concurrently: fine
			return "", classified(err)
		}
		if err != nil || out.TableDescription == nil || out.TableDescription.TableStatus != ddbtypes.TableStatusActive {
			if err := dynamodb.NewTableExistsWaiter(b.ddb).Wait(ctx, &dynamodb.DescribeTableInput{TableName: ptr(b.cfg.Table)}, 5*time.Minute); err != nil {
				return "", fmt.Errorf("waiting for the table: %w", err)
			}
		}
		if err := b.enableTTL(ctx); err != nil {
			return "", err
		}
		return "created", nil
	case err != nil:
		return "", classified(err)
	}
	have := map[string]bool{}
	for _, g := range desc.Table.GlobalSecondaryIndexes {
		have[deref(g.IndexName)] = true
	}
	for _, want := range []string{indexGSI1} {
		if !have[want] {
			return "", fmt.Errorf("the table exists without the index %s that cutover needs; use another table name, or add the index (keys %s/%s)", want, want+"pk", want+"sk")
		}
	}
	if dryRun {
		return "exists", nil
	}
	if err := b.enableTTL(ctx); err != nil {
		return "", err
	}
	return "exists", nil
}

func (b *Backend) enableTTL(ctx context.Context) error {
	d, err := b.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: ptr(b.cfg.Table)})
	if err != nil {
		return classified(err)
	}
	if st := d.TimeToLiveDescription; st != nil && (st.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled || st.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = b.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               ptr(b.cfg.Table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: ptr(attrTTL), Enabled: ptr(true)},
	})
	if err != nil {
		return fmt.Errorf("enable TTL: %w", classified(err))
	}
	return nil
}

// initBucket creates the bucket if needed.
func (b *Backend) initBucket(ctx context.Context, dryRun bool) (string, error) {
	_, err := b.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: ptr(b.cfg.Bucket)})
	if err == nil {
		return "exists", nil
	}
	var nf *s3types.NotFound
	if !errors.As(err, &nf) && errorCode(err) != "NotFound" && errorCode(err) != "NoSuchBucket" {
		return "", classified(err)
	}
	if dryRun {
		return "would create", nil
	}
	in := &s3.CreateBucketInput{Bucket: ptr(b.cfg.Bucket)}
	if region := b.cfg.Region; region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	if _, err := b.s3.CreateBucket(ctx, in); err != nil {
		var owned *s3types.BucketAlreadyOwnedByYou
		if !errors.As(err, &owned) {
			return "", classified(err)
		}
	}
	return "created", nil
}
