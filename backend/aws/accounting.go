package aws

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is what the backend's clients have sent so far: HTTP requests by
// service and operation (retries included: each attempt is billed), SQS
// requests as billed (every 64 KiB of payload counts as one), and the
// DynamoDB capacity units consumed.
type Snapshot struct {
	Requests          map[Op]int64   `json:"requests"`
	SQSBilledRequests int64          `json:"sqs_billed_requests"`
	ReadUnits         float64        `json:"dynamodb_read_units"`
	WriteUnits        float64        `json:"dynamodb_write_units"`
	Units             map[Op]float64 `json:"dynamodb_units_by_operation"` // read or write, by the operation's kind
}

// Op names one API operation of one service, e.g. {"sqs", "SendMessageBatch"}.
type Op struct {
	Service   string `json:"service"`
	Operation string `json:"operation"`
}

func (o Op) String() string { return o.Service + "/" + o.Operation }

// MarshalText lets Op key a JSON object.
func (o Op) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Service sums the requests to one service ("sqs", "dynamodb", "s3").
func (s Snapshot) Service(service string) int64 {
	var n int64
	for op, c := range s.Requests {
		if op.Service == service {
			n += c
		}
	}
	return n
}

// Sub returns s minus an earlier snapshot: what was sent in between.
func (s Snapshot) Sub(earlier Snapshot) Snapshot {
	d := Snapshot{
		Requests:          map[Op]int64{},
		Units:             map[Op]float64{},
		SQSBilledRequests: s.SQSBilledRequests - earlier.SQSBilledRequests,
		ReadUnits:         s.ReadUnits - earlier.ReadUnits,
		WriteUnits:        s.WriteUnits - earlier.WriteUnits,
	}
	for op, n := range s.Requests {
		if n -= earlier.Requests[op]; n != 0 {
			d.Requests[op] = n
		}
	}
	for op, u := range s.Units {
		if u -= earlier.Units[op]; u != 0 {
			d.Units[op] = u
		}
	}
	return d
}

// Ops lists the operations in s, sorted.
func (s Snapshot) Ops() []Op {
	ops := make([]Op, 0, len(s.Requests))
	for op := range s.Requests {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return ops
}

// sqsBillingChunk is the payload size SQS bills as one request.
const sqsBillingChunk = 64 << 10

// accounting counts requests and consumed capacity. It is installed on the
// three clients as an SDK middleware.
type accounting struct {
	requests *prometheus.CounterVec // service, operation
	capacity *prometheus.CounterVec // kind: read|write

	mu   sync.Mutex
	snap Snapshot
}

func newAccounting(reg prometheus.Registerer) *accounting {
	a := &accounting{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_aws_requests_total",
			Help: "HTTP requests sent to AWS by service and operation, retries included.",
		}, []string{"service", "operation"}),
		capacity: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_aws_dynamodb_capacity_units_total",
			Help: "DynamoDB capacity units consumed, as reported by DynamoDB (a failed conditional write counts its minimum of one write unit).",
		}, []string{"kind"}),
		snap: Snapshot{Requests: map[Op]int64{}, Units: map[Op]float64{}},
	}
	if reg != nil {
		reg.MustRegister(a.requests, a.capacity)
	}
	return a
}

// snapshot copies the counts so far.
func (a *accounting) snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.snap
	s.Requests = make(map[Op]int64, len(a.snap.Requests))
	for k, v := range a.snap.Requests {
		s.Requests[k] = v
	}
	s.Units = make(map[Op]float64, len(a.snap.Units))
	for k, v := range a.snap.Units {
		s.Units[k] = v
	}
	return s
}

// apiOption installs the middleware on one client's stack.
func (a *accounting) apiOption(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("cutoverConsumedCapacity", askConsumedCapacity), middleware.After); err != nil {
		return err
	}
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("cutoverAccounting",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			a.record(ctx, in, out, err)
			return out, md, err
		}), middleware.Before)
}

// record runs once per attempt, after the response was parsed.
func (a *accounting) record(ctx context.Context, in middleware.DeserializeInput, out middleware.DeserializeOutput, err error) {
	service := strings.ToLower(awsmiddleware.GetServiceID(ctx))
	op := Op{Service: service, Operation: awsmiddleware.GetOperationName(ctx)}
	billed := int64(0)
	if service == "sqs" {
		billed = 1
		if r, ok := in.Request.(*smithyhttp.Request); ok {
			if n, ok, _ := r.StreamLength(); ok && n > sqsBillingChunk {
				billed = (n + sqsBillingChunk - 1) / sqsBillingChunk
			}
		}
	}
	var read, write float64
	if service == "dynamodb" {
		read, write = consumed(op.Operation, out.Result)
		var ccf *ddbtypes.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			write = 1 // billed at least one unit; DynamoDB does not report it
		}
	}
	a.requests.WithLabelValues(op.Service, op.Operation).Inc()
	if read > 0 {
		a.capacity.WithLabelValues("read").Add(read)
	}
	if write > 0 {
		a.capacity.WithLabelValues("write").Add(write)
	}
	a.mu.Lock()
	a.snap.Requests[op]++
	a.snap.SQSBilledRequests += billed
	a.snap.ReadUnits += read
	a.snap.WriteUnits += write
	if read+write > 0 {
		a.snap.Units[op] += read + write
	}
	a.mu.Unlock()
}

// readOps are the DynamoDB operations whose capacity is read capacity.
var readOps = map[string]bool{"GetItem": true, "BatchGetItem": true, "Query": true, "Scan": true, "TransactGetItems": true}

// consumed returns the read and write units a DynamoDB response reports.
func consumed(operation string, result any) (read, write float64) {
	var ccs []ddbtypes.ConsumedCapacity
	switch r := result.(type) {
	case *dynamodb.PutItemOutput:
		ccs = one(r.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		ccs = one(r.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		ccs = one(r.ConsumedCapacity)
	case *dynamodb.GetItemOutput:
		ccs = one(r.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		ccs = one(r.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		ccs = one(r.ConsumedCapacity)
	case *dynamodb.BatchGetItemOutput:
		ccs = r.ConsumedCapacity
	case *dynamodb.BatchWriteItemOutput:
		ccs = r.ConsumedCapacity
	case *dynamodb.TransactWriteItemsOutput:
		ccs = r.ConsumedCapacity
	case *dynamodb.TransactGetItemsOutput:
		ccs = r.ConsumedCapacity
	}
	var units float64
	for _, cc := range ccs {
		if cc.CapacityUnits != nil {
			units += *cc.CapacityUnits
		}
	}
	if readOps[operation] {
		return units, 0
	}
	return 0, units
}

func one(cc *ddbtypes.ConsumedCapacity) []ddbtypes.ConsumedCapacity {
	if cc == nil {
		return nil
	}
	return []ddbtypes.ConsumedCapacity{*cc}
}

// askConsumedCapacity asks every DynamoDB data-plane request to report the
// capacity it consumed: that is how write units per event are measured.
func askConsumedCapacity(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	const total = ddbtypes.ReturnConsumedCapacityTotal
	switch p := in.Parameters.(type) {
	case *dynamodb.PutItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.UpdateItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.DeleteItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.GetItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.QueryInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.ScanInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.BatchGetItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.BatchWriteItemInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.TransactWriteItemsInput:
		p.ReturnConsumedCapacity = total
	case *dynamodb.TransactGetItemsInput:
		p.ReturnConsumedCapacity = total
	}
	return next.HandleInitialize(ctx, in)
}
