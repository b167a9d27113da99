package orders

import (
	"net/http"
	"net/http/httptest"
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
	if strings.Contains(buggy, "currency") || !strings.Contains(fixed, `"currency":"USD"`) {
		t.Errorf("currency: buggy %s fixed %s", buggy, fixed)
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
