package aws

import (
	"fmt"
	"io"
	"strings"
)

// Prices are on-demand prices in US dollars per million units. This file is
// the one place that knows what AWS charges; everything else counts.
type Prices struct {
	SQSRequests     float64 // per million requests (64 KiB of payload each)
	DynamoDBWrites  float64 // per million write request units
	DynamoDBReads   float64 // per million read request units
	S3PutRequests   float64 // PUT, COPY, POST, LIST
	S3GetRequests   float64 // GET, HEAD and the rest (DELETE is free)
	RegionAndSource string
}

// USEast1 returns the us-east-1 on-demand prices the reports use.
func USEast1() Prices {
	return Prices{
		SQSRequests:     0.40,
		DynamoDBWrites:  0.625,
		DynamoDBReads:   0.125,
		S3PutRequests:   5.00,
		S3GetRequests:   0.40,
		RegionAndSource: "us-east-1 on-demand (SQS standard queue, DynamoDB on-demand, S3 Standard requests)",
	}
}

// s3Tier says how S3 bills an operation: "put", "get" or "free".
func s3Tier(operation string) string {
	switch {
	case strings.HasPrefix(operation, "Delete"), strings.HasPrefix(operation, "AbortMultipart"):
		return "free"
	case strings.HasPrefix(operation, "Get"), strings.HasPrefix(operation, "Head"):
		return "get"
	}
	return "put" // Put*, Copy*, Create*, List*, CompleteMultipart*, UploadPart*
}

// Cost is what a snapshot of traffic costs, per processed event.
type Cost struct {
	Events int64 `json:"events"`
	// Per event.
	SQSRequests    float64 `json:"sqs_requests_per_event"` // as billed
	DynamoDBWrites float64 `json:"dynamodb_write_units_per_event"`
	DynamoDBReads  float64 `json:"dynamodb_read_units_per_event"`
	S3Puts         float64 `json:"s3_puts_per_event"`
	S3Gets         float64 `json:"s3_gets_per_event"`
	// Dollars per million events.
	SQSDollars      float64 `json:"sqs_usd_per_million_events"`
	DynamoDBDollars float64 `json:"dynamodb_usd_per_million_events"`
	S3Dollars       float64 `json:"s3_usd_per_million_events"`
	TotalDollars    float64 `json:"total_usd_per_million_events"`
}

// CostOf turns the traffic in s, which processed events events, into
// requests per event and dollars per million events at prices p.
func CostOf(s Snapshot, events int64, p Prices) Cost {
	c := Cost{Events: events}
	if events <= 0 {
		return c
	}
	per := func(n float64) float64 { return n / float64(events) }
	var puts, gets int64
	for op, n := range s.Requests {
		if op.Service != "s3" {
			continue
		}
		switch s3Tier(op.Operation) {
		case "put":
			puts += n
		case "get":
			gets += n
		}
	}
	sqsReqs := s.SQSBilledRequests
	if sqsReqs < s.Service("sqs") { // snapshots built by hand
		sqsReqs = s.Service("sqs")
	}
	c.SQSRequests = per(float64(sqsReqs))
	c.DynamoDBWrites = per(s.WriteUnits)
	c.DynamoDBReads = per(s.ReadUnits)
	c.S3Puts = per(float64(puts))
	c.S3Gets = per(float64(gets))
	// Per event times price per million units is dollars per million events.
	c.SQSDollars = c.SQSRequests * p.SQSRequests
	c.DynamoDBDollars = c.DynamoDBWrites*p.DynamoDBWrites + c.DynamoDBReads*p.DynamoDBReads
	c.S3Dollars = c.S3Puts*p.S3PutRequests + c.S3Gets*p.S3GetRequests
	c.TotalDollars = c.SQSDollars + c.DynamoDBDollars + c.S3Dollars
	return c
}

// WriteTable writes c as an aligned two-column table.
func (c Cost) WriteTable(w io.Writer) error {
	rows := []struct {
		k string
		v string
	}{
		{"events", fmt.Sprint(c.Events)},
		{"SQS requests / event", fmt.Sprintf("%.3f", c.SQSRequests)},
		{"DynamoDB write units / event", fmt.Sprintf("%.3f", c.DynamoDBWrites)},
		{"DynamoDB read units / event", fmt.Sprintf("%.3f", c.DynamoDBReads)},
		{"S3 PUT / event", fmt.Sprintf("%.4f", c.S3Puts)},
		{"S3 GET / event", fmt.Sprintf("%.4f", c.S3Gets)},
		{"SQS $ / million events", fmt.Sprintf("%.3f", c.SQSDollars)},
		{"DynamoDB $ / million events", fmt.Sprintf("%.3f", c.DynamoDBDollars)},
		{"S3 $ / million events", fmt.Sprintf("%.3f", c.S3Dollars)},
		{"total $ / million events", fmt.Sprintf("%.3f", c.TotalDollars)},
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%-30s %12s\n", r.k, r.v); err != nil {
			return err
		}
	}
	return nil
}
