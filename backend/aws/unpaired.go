package aws

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cutover-dev/cutover"
)

// A manifest (pk U#shard, sk created#token) names pairs whose first side
// is about to be written at `created` (prs: "epoch:event" strings). It is
// written before those sides, once per call: a batch of shadow events
// shares one. Unpaired reads the manifests older than its cutoff, oldest
// first, reads the pairs they name, lists the one-sided ones and deletes
// manifests whose pairs are all settled (complete, or never written). So a
// pair costs a share of one manifest write and one delete, instead of an
// index entry written with its first side and deleted with its second.

const (
	unpairedShards = 8
	attrPairs      = "prs"
	manifestPage   = 100 // manifests read per shard per round
)

// pairKey names one pair.
type pairKey struct {
	eventID string
	epoch   int
}

func (k pairKey) String() string { return strconv.Itoa(k.epoch) + ":" + k.eventID }

func parsePairKey(s string) (pairKey, bool) {
	ep, id, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(ep)
	return pairKey{eventID: id, epoch: n}, ok && err == nil && id != ""
}

func manifestShard(eventID string) int {
	h := fnv.New32a()
	h.Write([]byte(eventID))
	return int(h.Sum32() % unpairedShards)
}

// noteUnpaired writes one manifest for pairs whose first side is written
// next, stamped now (the pairs' created time).
func (t *Table) noteUnpaired(ctx context.Context, pairs []pairKey, now time.Time) error {
	if len(pairs) == 0 {
		return nil
	}
	names := make([]string, len(pairs))
	for i, p := range pairs {
		names[i] = p.String()
	}
	it := key("U#"+strconv.Itoa(manifestShard(pairs[0].eventID)), padNanos(now.UnixNano())+"#"+newToken())
	it[attrPairs] = avL(names...)
	it[attrTTL] = t.ttl(now)
	if _, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &t.name, Item: it}); err != nil {
		return fmt.Errorf("manifest: %w", classified(err))
	}
	return nil
}

// manifest is one manifest read back.
type manifest struct {
	pk, sk string
	pairs  []pairKey
}

// Unpaired lists one-sided pairs whose first side arrived before `before`,
// oldest first: those the manifests older than before name (manifests
// found settled are deleted on the way), and those of deferred events
// (unpaireddeferred.go).
func (t *Table) Unpaired(ctx context.Context, before time.Time, limit int) ([]cutover.OutcomePair, error) {
	if limit <= 0 {
		limit = defaultMax
	}
	out, err := t.unpairedManifests(ctx, before, limit)
	if err != nil {
		return nil, fmt.Errorf("aws: unpaired: %w", err)
	}
	deferred, err := t.unpairedDeferred(ctx, before, limit)
	if err != nil {
		return nil, fmt.Errorf("aws: unpaired: deferred events: %w", err)
	}
	seen := make(map[pairKey]bool, len(out))
	for _, p := range out {
		seen[pairKey{p.EventID, p.Epoch}] = true
	}
	for _, p := range deferred {
		if !seen[pairKey{p.EventID, p.Epoch}] {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// unpairedManifests lists the one-sided pairs the manifests name.
func (t *Table) unpairedManifests(ctx context.Context, before time.Time, limit int) ([]cutover.OutcomePair, error) {
	var ms []manifest
	for s := 0; s < unpairedShards; s++ {
		e := newExpr()
		n := 0
		err := t.query(ctx, &dynamodb.QueryInput{
			KeyConditionExpression: ptr(e.n(attrPK) + " = " + e.v(avS("U#"+strconv.Itoa(s))) +
				" AND " + e.n(attrSK) + " < " + e.v(avS(padNanos(before.UnixNano())))),
			ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
			ConsistentRead: ptr(true), Limit: ptr(int32(manifestPage)),
		}, func(it item) bool {
			m := manifest{pk: it.s(attrPK), sk: it.s(attrSK)}
			for _, s := range it.list(attrPairs) {
				if k, ok := parsePairKey(s); ok {
					m.pairs = append(m.pairs, k)
				}
			}
			ms = append(ms, m)
			n++
			return n < max(limit, manifestPage)
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].sk < ms[j].sk })
	var out []cutover.OutcomePair
	seen := map[pairKey]bool{}
	for start := 0; start < len(ms) && len(out) < limit; {
		// Read the event items of as many manifests as one batch holds.
		end, keys, want := start, []item(nil), map[string]bool{}
		for ; end < len(ms) && (end == start || len(keys)+len(ms[end].pairs) <= batchGetN); end++ {
			for _, p := range ms[end].pairs {
				if pk := eventPK(p.eventID); !want[pk] {
					want[pk] = true
					keys = append(keys, key(pk, skLog))
				}
			}
		}
		got, err := t.batchGet(ctx, keys)
		if err != nil {
			return nil, err
		}
		for _, m := range ms[start:end] {
			open := false
			for _, pk := range m.pairs {
				it, ok := got[eventPK(pk.eventID)+"\x00"+skLog]
				pa := pairOf(pk.epoch)
				if !ok || it.hasSide(pa.legacy) == it.hasSide(pa.async) {
					continue // expired, never written, or complete
				}
				open = true
				if seen[pk] || len(out) >= limit || !fromNanos(it.n(pa.created)).Before(before) {
					continue
				}
				seen[pk] = true
				p, err := t.decodePair(ctx, it, pk.epoch)
				if err != nil {
					return nil, err
				}
				out = append(out, p)
			}
			if !open {
				if _, err := t.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &t.name, Key: key(m.pk, m.sk)}); err != nil {
					return nil, fmt.Errorf("settled manifest: %w", classified(err))
				}
			}
		}
		start = end
	}
	return out, nil
}
