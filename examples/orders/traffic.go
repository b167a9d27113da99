package orders

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// Traffic generates n order requests, the same for the same seed: customers
// c-0..c-49, one to four items with prices that make tax rounding matter for
// some orders.
func Traffic(seed uint64, n int) []Request {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Request, n)
	for i := range out {
		items := make([]Item, 1+r.IntN(4))
		for j := range items {
			items[j] = Item{SKU: fmt.Sprintf("sku-%02d", r.IntN(40)), Qty: 1 + r.IntN(3), UnitCents: int64(99 + r.IntN(5000))}
		}
		out[i] = Request{CustomerID: fmt.Sprintf("c-%d", r.IntN(50)), Items: items}
	}
	return out
}

// Body is the JSON of a request.
func (r Request) Body() []byte {
	b, _ := json.Marshal(r)
	return b
}

// BuggyDiffers reports whether NewWithBugs answers r differently from legacy
// in a way the demo's compare rules do not ignore: a tax truncated instead
// of rounded, or a single-item order without its currency.
func BuggyDiffers(r Request) bool {
	var sub int64
	for _, it := range r.Items {
		sub += int64(it.Qty) * it.UnitCents
	}
	return (sub*TaxBasisPoints)%10000 >= 5000 || len(r.Items) == 1
}
