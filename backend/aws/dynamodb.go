package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Table implements the DynamoDB-backed stores (idempotency, transitions,
// outcomes, comparisons and aggregates, flags, and the archive's index) on
// one table. See the package documentation for the key design.
type Table struct {
	client    *dynamodb.Client
	name      string
	blobs     *Bucket // large values
	retention time.Duration
	inline    int
	shards    int
	backoff   backoff
	log       *slog.Logger

	regMu      sync.Mutex
	registered map[string]bool // registry entries written by this process

	aggs  aggCache
	sweep sweepState
}

// Key and index attribute names.
const (
	attrPK     = "pk"
	attrSK     = "sk"
	attrG1PK   = "gsi1pk"
	attrG1SK   = "gsi1sk"
	attrTTL    = "ttl"
	attrToken  = "tok"
	indexGSI1  = "gsi1"
	batchGetN  = 100 // BatchGetItem limit
	queryPage  = 1000
	defaultMax = 1000 // default Limit of the list calls
)

func newTable(client *dynamodb.Client, name string, blobs *Bucket, o Options) *Table {
	return &Table{
		client: client, name: name, blobs: blobs, retention: o.Retention, inline: o.ItemInlineLimit,
		shards: o.AggregateShards, backoff: backoff{base: o.RetryBase, max: o.MaxBackoff}, log: o.Logger,
		registered: map[string]bool{}, aggs: aggCache{entries: map[aggID]*aggMemo{}},
	}
}

// item is one DynamoDB item.
type item map[string]types.AttributeValue

func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func avN(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func avL(vs ...string) types.AttributeValue {
	l := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		l[i] = avS(v)
	}
	return &types.AttributeValueMemberL{Value: l}
}
func avSS(vs ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: vs} }

func (it item) has(k string) bool { _, ok := it[k]; return ok }

func (it item) s(k string) string {
	if v, ok := it[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (it item) n(k string) int64 {
	if v, ok := it[k].(*types.AttributeValueMemberN); ok {
		if n, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			return n
		}
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil {
			return int64(f)
		}
	}
	return 0
}

// list returns a list of strings, or a string set, as a slice.
func (it item) list(k string) []string {
	switch v := it[k].(type) {
	case *types.AttributeValueMemberL:
		out := make([]string, 0, len(v.Value))
		for _, e := range v.Value {
			if s, ok := e.(*types.AttributeValueMemberS); ok {
				out = append(out, s.Value)
			}
		}
		return out
	case *types.AttributeValueMemberSS:
		return append([]string(nil), v.Value...)
	}
	return nil
}

func key(pk, sk string) item { return item{attrPK: avS(pk), attrSK: avS(sk)} }

// expr collects the placeholders of one expression set. Attribute names in
// this package are letters, digits and underscores, so "#"+name is a valid
// placeholder; using one for every name keeps reserved words (ttl, data)
// out of the way.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

func (e *expr) n(attr string) string {
	e.names["#"+attr] = attr
	return "#" + attr
}

func (e *expr) v(av types.AttributeValue) string {
	p := ":v" + strconv.Itoa(len(e.values))
	e.values[p] = av
	return p
}

func (e *expr) attrNames() map[string]string {
	if len(e.names) == 0 {
		return nil
	}
	return e.names
}

func (e *expr) attrValues() map[string]types.AttributeValue {
	if len(e.values) == 0 {
		return nil
	}
	return e.values
}

// esc makes s safe as one '#'-separated part of a key.
func esc(s string) string {
	if !strings.ContainsAny(s, "%#") {
		return s
	}
	return strings.NewReplacer("%", "%25", "#", "%23").Replace(s)
}

func unesc(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return strings.NewReplacer("%23", "#", "%25", "%").Replace(s)
}

// padInt formats a non-negative number so that strings sort like numbers.
func padInt(n int64, width int) string {
	s := strconv.FormatInt(max(n, 0), 10)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

func padEpoch(epoch int) string { return padInt(int64(epoch), 10) }
func padNanos(n int64) string   { return padInt(n, 20) }

// newToken returns a random token that marks one write as ours.
func newToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ttl is the expiry of a record written now.
func (t *Table) ttl(now time.Time) types.AttributeValue {
	return avN(now.Add(t.retention).Unix())
}

// conditionFailed returns the item a failed conditional write found (nil if
// there was none), and whether err is such a failure.
func conditionFailed(err error) (item, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return item(ccf.Item), true
	}
	return nil, false
}

// packJSON stores data in the item under attr, or in S3 under refAttr when
// it is larger than the inline limit. It returns the attribute written and
// the one to remove.
func (t *Table) packJSON(ctx context.Context, data []byte, attr, refAttr string) (set string, val types.AttributeValue, remove string, err error) {
	if len(data) <= t.inline {
		return attr, avS(string(data)), refAttr, nil
	}
	ref, err := t.blobs.PutBlob(ctx, data)
	if err != nil {
		return "", nil, "", fmt.Errorf("large value to S3: %w", err)
	}
	return refAttr, avS(ref), attr, nil
}

// unpackJSON reads what packJSON stored; ok is false if neither attribute
// is set.
func (t *Table) unpackJSON(ctx context.Context, it item, attr, refAttr string) (data []byte, ok bool, err error) {
	if it.has(attr) {
		return []byte(it.s(attr)), true, nil
	}
	if ref := it.s(refAttr); ref != "" {
		data, err := t.blobs.Blob(ctx, ref)
		if err != nil {
			return nil, false, fmt.Errorf("large value from S3: %w", err)
		}
		return data, true, nil
	}
	return nil, false, nil
}

// get reads one item with a strongly consistent read; nil if absent.
func (t *Table) get(ctx context.Context, pk, sk string) (item, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &t.name, Key: key(pk, sk), ConsistentRead: ptr(true)})
	if err != nil {
		return nil, classified(err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return item(out.Item), nil
}

// query runs in page by page, calling each for every item until it returns
// false.
func (t *Table) query(ctx context.Context, in *dynamodb.QueryInput, each func(item) bool) error {
	in.TableName = &t.name
	for {
		out, err := t.client.Query(ctx, in)
		if err != nil {
			return classified(err)
		}
		for _, it := range out.Items {
			if !each(item(it)) {
				return nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// batchGet reads items by key with strongly consistent reads, retrying
// unprocessed keys; the result is keyed by pk+"\x00"+sk.
func (t *Table) batchGet(ctx context.Context, keys []item) (map[string]item, error) {
	return t.batchGetRead(ctx, keys, true)
}

// batchGetRead is batchGet with a choice of read: an eventually consistent
// one costs half.
func (t *Table) batchGetRead(ctx context.Context, keys []item, consistent bool) (map[string]item, error) {
	got := make(map[string]item, len(keys))
	for start := 0; start < len(keys); start += batchGetN {
		todo := keys[start:min(start+batchGetN, len(keys))]
		for round := 1; len(todo) > 0; round++ {
			ks := make([]map[string]types.AttributeValue, len(todo))
			for i, k := range todo {
				ks[i] = k
			}
			out, err := t.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{t.name: {Keys: ks, ConsistentRead: ptr(consistent)}},
			})
			if err != nil {
				return nil, classified(err)
			}
			for _, it := range out.Responses[t.name] {
				it := item(it)
				got[it.s(attrPK)+"\x00"+it.s(attrSK)] = it
			}
			todo = nil
			for _, k := range out.UnprocessedKeys[t.name].Keys {
				todo = append(todo, item(k))
			}
			if len(todo) > 0 {
				if err := sleep(ctx, t.backoff.delay(round, true)); err != nil {
					return nil, err
				}
			}
		}
	}
	return got, nil
}

// Registry kinds: which workflows have archived events, comparisons and
// aggregates, so that a query over all workflows is a Query per workflow.
const (
	regComparisons = "C"
	regAggregates  = "G"
	pkRegistry     = "R"
)

// register records workflow under kind, once per process.
func (t *Table) register(ctx context.Context, kind, workflow string) error {
	sk := kind + "#" + esc(workflow)
	t.regMu.Lock()
	done := t.registered[sk]
	t.regMu.Unlock()
	if done {
		return nil
	}
	it := key(pkRegistry, sk)
	it["wf"] = avS(workflow)
	if _, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &t.name, Item: it}); err != nil {
		return fmt.Errorf("registry: %w", classified(err))
	}
	t.regMu.Lock()
	t.registered[sk] = true
	t.regMu.Unlock()
	return nil
}

// workflows lists the workflows registered under kind, sorted.
func (t *Table) workflows(ctx context.Context, kind string) ([]string, error) {
	var wfs []string
	e := newExpr()
	err := t.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    ptr(e.n(attrPK) + " = " + e.v(avS(pkRegistry)) + " AND begins_with(" + e.n(attrSK) + ", " + e.v(avS(kind+"#")) + ")"),
		ExpressionAttributeNames:  e.attrNames(),
		ExpressionAttributeValues: e.attrValues(),
		ConsistentRead:            ptr(true),
	}, func(it item) bool {
		wfs = append(wfs, it.s("wf"))
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	sort.Strings(wfs)
	return wfs, nil
}
