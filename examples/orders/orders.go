// Package orders is the sample workflow of the demo and the examples: a
// legacy order service, and the new implementation in two versions — the
// first with deliberate differences the comparator should find, the second
// corrected. Both keep orders in memory and honour Idempotency-Key.
package orders

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Item is one order line.
type Item struct {
	SKU       string `json:"sku"`
	Qty       int    `json:"qty"`
	UnitCents int64  `json:"unit_cents"`
}

// Request is the body of POST /orders.
type Request struct {
	CustomerID string `json:"customer_id"`
	Items      []Item `json:"items"`
}

// Order is what both implementations answer.
type Order struct {
	OrderID    string `json:"order_id"`
	CustomerID string `json:"customer_id"`
	Status     string `json:"status"`
	Items      []Item `json:"items"`
	Subtotal   string `json:"subtotal"`
	Tax        string `json:"tax"`
	Total      string `json:"total"`
	Currency   string `json:"currency,omitempty"`
	CreatedAt  string `json:"created_at"`
}

// TaxBasisPoints is the sales tax: 8.25%.
const TaxBasisPoints = 825

// Version selects an implementation's behaviour.
type Version int

const (
	// Legacy is the existing service.
	Legacy Version = iota
	// NewWithBugs is the first new implementation: it truncates tax instead
	// of rounding half up (tax and total differ by a cent for some inputs),
	// leaves out the currency field of single-item orders, and lists items
	// sorted by SKU (a difference the comparator's unordered rule ignores).
	NewWithBugs
	// NewFixed is the corrected new implementation.
	NewFixed
)

// Service is one implementation of the order service.
type Service struct {
	version Version
	prefix  string
	mu      sync.Mutex
	orders  map[string]Order
	byKey   map[string]storedResponse
	seq     atomic.Int64
	// Effects counts the orders created per idempotency key: a correct
	// pipeline never creates one twice.
	effects    map[string]int
	shadowRuns int
	calls      atomic.Int64
}

type storedResponse struct {
	hash   string
	status int
	body   []byte
}

// New returns an implementation; prefix distinguishes its order ids.
func New(v Version, prefix string) *Service {
	return &Service{version: v, prefix: prefix, orders: map[string]Order{}, byKey: map[string]storedResponse{}, effects: map[string]int{}}
}

// SetVersion switches behaviour, as a deploy of a fix would.
func (s *Service) SetVersion(v Version) {
	s.mu.Lock()
	s.version = v
	s.mu.Unlock()
}

// Handler serves POST /orders and GET /orders/{id}.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", s.create)
	mux.HandleFunc("GET /orders/{id}", s.get)
	return mux
}

// ShadowRuns is how many shadow requests it answered without effect.
func (s *Service) ShadowRuns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shadowRuns
}

// Calls is how many requests the service has answered.
func (s *Service) Calls() int64 { return s.calls.Load() }

// Effects returns a copy of the orders created per idempotency key.
func (s *Service) Effects() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.effects))
	for k, v := range s.effects {
		out[k] = v
	}
	return out
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	var req Request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body"})
		return
	}
	if req.CustomerID == "" || len(req.Items) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "customer_id and items are required"})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	hash := fmt.Sprintf("%s|%v", req.CustomerID, req.Items)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("Cutover-Mode") == "shadow" {
		// The shadow contract: compute the answer, change nothing.
		s.shadowRuns++
		writeJSON(w, http.StatusCreated, s.price(req))
		return
	}
	if key != "" {
		if prev, ok := s.byKey[key]; ok {
			if prev.hash != hash {
				writeJSON(w, http.StatusConflict, map[string]string{"error": "idempotency key reused with a different body"})
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(prev.status)
			_, _ = w.Write(prev.body)
			return
		}
	}
	o := s.price(req)
	s.orders[o.OrderID] = o
	body, _ := json.Marshal(o)
	if key != "" {
		s.byKey[key] = storedResponse{hash: hash, status: http.StatusCreated, body: body}
		s.effects[key]++
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	id := r.PathValue("id")
	s.mu.Lock()
	o, ok := s.orders[id]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no order " + id})
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// price computes an order as this version does. Called with s.mu held.
func (s *Service) price(req Request) Order {
	var sub int64
	for _, it := range req.Items {
		sub += int64(it.Qty) * it.UnitCents
	}
	var tax int64
	if s.version == NewWithBugs {
		tax = sub * TaxBasisPoints / 10000 // truncates: a cent short for some totals
	} else {
		tax = (sub*TaxBasisPoints + 5000) / 10000 // half up
	}
	items := append([]Item(nil), req.Items...)
	o := Order{
		OrderID:    s.prefix + "-" + strconv.FormatInt(s.seq.Add(1), 10),
		CustomerID: req.CustomerID,
		Status:     "accepted",
		Subtotal:   cents(sub),
		Tax:        cents(tax),
		Total:      cents(sub + tax),
		Currency:   "USD",
		CreatedAt:  time.Now().UTC().Format(time.RFC3339Nano),
	}
	if s.version == NewWithBugs {
		if len(items) == 1 {
			o.Currency = ""
		}
		sort.Slice(items, func(i, j int) bool { return items[i].SKU < items[j].SKU })
	}
	o.Items = items
	return o
}

func cents(c int64) string {
	return strconv.FormatInt(c/100, 10) + "." + strings.TrimPrefix(fmt.Sprintf("%03d", c%100), "0")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
