package comparator

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cutover-dev/cutover"
)

// orderRules are the rules a real order workflow would use: ids and
// timestamps that each side generates are ignored, line items are unordered
// and matched by sku, money is compared to the cent.
var orderRules = cutover.CompareConfig{
	Ignore:           []string{"$.order_id", "$.created_at", "$.items[*].line_id"},
	Unordered:        []cutover.UnorderedRule{{Path: "$.items", Key: "sku"}},
	NumericTolerance: 0.005,
}

type orderItem struct {
	LineID    string   `json:"line_id"`
	SKU       string   `json:"sku"`
	Name      string   `json:"name"`
	Qty       int      `json:"qty"`
	UnitPrice float64  `json:"unit_price"`
	Tags      []string `json:"tags"`
}

// orderPair generates a legacy and an async order response with n line
// items, deterministically from seed. The async side differs the way a real
// reimplementation does: its own ids and timestamp, items in another order,
// object keys in another order, a rounding difference within tolerance,
// one wrong price, and a null field left out.
func orderPair(n int, seed uint64) (legacy, async []byte) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(86400)) * time.Second)
	items := make([]orderItem, n)
	subtotal := 0.0
	for i := range items {
		items[i] = orderItem{
			LineID:    fmt.Sprintf("ln_%08x", rng.Uint32()),
			SKU:       fmt.Sprintf("SKU-%05d", i*7+rng.IntN(7)),
			Name:      fmt.Sprintf("Product %d in colour %d", i, rng.IntN(20)),
			Qty:       1 + rng.IntN(5),
			UnitPrice: float64(100+rng.IntN(9900)) / 100,
			Tags:      []string{"tag" + fmt.Sprint(rng.IntN(10)), "cat" + fmt.Sprint(rng.IntN(10))},
		}
		subtotal += float64(items[i].Qty) * items[i].UnitPrice
	}
	doc := func(id string, created time.Time, items []orderItem, tax float64, withNote bool) map[string]any {
		d := map[string]any{
			"order_id":   id,
			"created_at": created.Format(time.RFC3339Nano),
			"status":     "confirmed",
			"currency":   "EUR",
			"customer": map[string]any{
				"id": "cus_1842", "name": "Ada Lovelace", "email": "ada@example.com",
				"address": map[string]any{"line1": "12 Analytical St", "city": "London", "zip": "N1 9GU", "country": "GB"},
			},
			"items":  items,
			"totals": map[string]any{"subtotal": subtotal, "tax": tax, "shipping": 4.9, "total": subtotal + tax + 4.9},
			"flags":  map[string]any{"gift": false, "express": true},
		}
		if withNote {
			d["note"] = nil
		}
		return d
	}
	tax := float64(int(subtotal*20)) / 100
	legacy = mustJSON(doc(fmt.Sprintf("ord_%08x", rng.Uint32()), at, items, tax, true))

	shuffled := make([]orderItem, n)
	copy(shuffled, items)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := range shuffled {
		shuffled[i].LineID = fmt.Sprintf("li-%d", i)
	}
	shuffled[len(shuffled)/2].UnitPrice += 0.10 // the bug the diff should find
	async = mustJSON(doc(fmt.Sprintf("ord_%08x", rng.Uint32()), at.Add(1500*time.Millisecond), shuffled, tax+0.004, false))
	// Legacy writes keys in struct order; encoding/json sorts map keys.
	// Reverse-order the async top level so key order differs as well.
	return legacy, reverseKeys(async)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// reverseKeys rewrites a JSON object with its top-level keys in reverse
// order.
func reverseKeys(b []byte) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	n, _ := parse(b)
	out := []byte{'{'}
	for i := len(n.kids) - 1; i >= 0; i-- {
		k := n.kids[i].key
		out = append(out, quote(k)...)
		out = append(out, ':')
		out = append(out, m[k]...)
		if i > 0 {
			out = append(out, ',')
		}
	}
	return append(out, '}')
}
