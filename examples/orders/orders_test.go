package orders

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestCents(t *testing.T) {
	for c, want := range map[int64]string{0: "0.00", 5: "0.05", 105: "1.05", 12345: "123.45"} {
		if got := cents(c); got != want {
			t.Errorf("cents(%d) = %q, want %q", c, got, want)
		}
	}
}

func TestVersionsDiffer(t *testing.T) {
	// 3 x 1.98 = 5.94; tax 0.49005 -> legacy rounds to 0.49, truncation too;
	// 1 x 2.00: tax 0.165 -> legacy 0.17, truncated 0.16.
	body := `{"customer_id":"c1","items":[{"sku":"b","qty":1,"unit_cents":200},{"sku":"a","qty":1,"unit_cents":0}]}`
	get := func(v Version) string {
		s := New(v, "x")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(body)))
		if rec.Code != http.StatusCreated {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	legacy, buggy, fixed := get(Legacy), get(NewWithBugs), get(NewFixed)
	if !strings.Contains(legacy, `"total":"2.17"`) || !strings.Contains(buggy, `"total":"2.16"`) || !strings.Contains(fixed, `"total":"2.17"`) {
		t.Errorf("totals: legacy %s\nbuggy %s\nfixed %s", legacy, buggy, fixed)
	}
	if !strings.Contains(fixed, `"currency":"USD"`) {
		t.Errorf("currency: fixed %s", fixed)
	}
	if !strings.Contains(buggy, `"items":[{"sku":"a"`) || !strings.Contains(legacy, `"items":[{"sku":"b"`) {
		t.Errorf("item order: legacy %s buggy %s", legacy, buggy)
	}
}

func TestIdempotencyKey(t *testing.T) {
	s := New(Legacy, "x")
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", "k1")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	a := post(`{"customer_id":"c","items":[{"sku":"a","qty":1,"unit_cents":100}]}`)
	b := post(`{"customer_id":"c","items":[{"sku":"a","qty":1,"unit_cents":100}]}`)
	if a.Body.String() != b.Body.String() || s.Effects()["k1"] != 1 {
		t.Errorf("replayed key gave %s then %s, effects %v", a.Body, b.Body, s.Effects())
	}
	if c := post(`{"customer_id":"c","items":[{"sku":"z","qty":1,"unit_cents":100}]}`); c.Code != http.StatusConflict {
		t.Errorf("reused key with another body: status %d", c.Code)
	}
}

func TestBuggyDiffersPredictsResponses(t *testing.T) {
	legacy, buggy := New(Legacy, "l"), New(NewWithBugs, "n")
	post := func(s *Service, body []byte) map[string]any {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(string(body))))
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "order_id")
		delete(m, "created_at")
		delete(m, "items") // compared unordered by the demo's rules
		return m
	}
	differs := 0
	for _, r := range Traffic(7, 300) {
		got := !reflect.DeepEqual(post(legacy, r.Body()), post(buggy, r.Body()))
		if got != BuggyDiffers(r) {
			t.Fatalf("request %s: responses differ = %v, BuggyDiffers = %v", r.Body(), got, BuggyDiffers(r))
		}
		if got {
			differs++
		}
	}
	if differs < 60 || differs > 240 {
		t.Errorf("%d of 300 differ; the demo wants a visible share, not all or none", differs)
	}
}

func TestShadowModeChangesNothing(t *testing.T) {
	s := New(Legacy, "x")
	req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{"customer_id":"c","items":[{"sku":"a","qty":1,"unit_cents":100}]}`))
	req.Header.Set("Idempotency-Key", "k")
	req.Header.Set("Cutover-Mode", "shadow")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated || len(s.Effects()) != 0 || s.ShadowRuns() != 1 {
		t.Errorf("shadow request: %d, effects %v, shadow runs %d", rec.Code, s.Effects(), s.ShadowRuns())
	}
}
