package aws

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCostOf(t *testing.T) {
	p := USEast1()
	for _, tc := range []struct {
		name   string
		snap   Snapshot
		events int64
		want   Cost
	}{
		{
			name:   "no events",
			snap:   Snapshot{Requests: map[Op]int64{{"sqs", "SendMessageBatch"}: 10}},
			events: 0,
			want:   Cost{},
		},
		{
			name: "per event and per million",
			snap: Snapshot{
				Requests: map[Op]int64{
					{"sqs", "SendMessageBatch"}: 100, {"sqs", "ReceiveMessage"}: 100, {"sqs", "DeleteMessageBatch"}: 100,
					{"dynamodb", "PutItem"}: 5000, {"s3", "PutObject"}: 2, {"s3", "GetObject"}: 10, {"s3", "DeleteObject"}: 50,
					{"s3", "ListObjectsV2"}: 8,
				},
				SQSBilledRequests: 300,
				WriteUnits:        6000,
				ReadUnits:         2000,
			},
			events: 1000,
			want: Cost{
				Events: 1000, SQSRequests: 0.3, DynamoDBWrites: 6, DynamoDBReads: 2, S3Puts: 0.01, S3Gets: 0.01,
				SQSDollars: 0.12, DynamoDBDollars: 6*0.625 + 2*0.125, S3Dollars: 0.01*5 + 0.01*0.4,
				TotalDollars: 0.12 + 6*0.625 + 2*0.125 + 0.01*5 + 0.01*0.4,
			},
		},
		{
			name:   "large SQS payloads bill per 64 KiB",
			snap:   Snapshot{Requests: map[Op]int64{{"sqs", "SendMessageBatch"}: 1}, SQSBilledRequests: 4},
			events: 10,
			want:   Cost{Events: 10, SQSRequests: 0.4, SQSDollars: 0.16, TotalDollars: 0.16},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CostOf(tc.snap, tc.events, p)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("CostOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCostTable(t *testing.T) {
	var buf bytes.Buffer
	c := CostOf(Snapshot{Requests: map[Op]int64{{"sqs", "ReceiveMessage"}: 1}}, 10, USEast1())
	if err := c.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "SQS requests / event") || !strings.Contains(buf.String(), "0.100") {
		t.Errorf("table:\n%s", buf.String())
	}
	if math.Abs(c.TotalDollars-0.04) > 1e-9 {
		t.Errorf("total %v, want 0.04", c.TotalDollars)
	}
}

func TestS3Tier(t *testing.T) {
	for op, want := range map[string]string{
		"PutObject": "put", "ListObjectsV2": "put", "CreateBucket": "put", "CopyObject": "put",
		"GetObject": "get", "HeadObject": "get", "HeadBucket": "get", "DeleteObject": "free",
	} {
		if got := s3Tier(op); got != want {
			t.Errorf("s3Tier(%s) = %s, want %s", op, got, want)
		}
	}
}
