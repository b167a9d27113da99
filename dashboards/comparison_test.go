package dashboards

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitComparison(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Comparison
		ok   bool
	}{
		{"max by (job) (x) > 0", Comparison{"max by (job) (x)", ">", 0}, true},
		{"a - b > 0", Comparison{"a - b", ">", 0}, true},
		{"x{queue=\"main\"} >= 120", Comparison{"x{queue=\"main\"}", ">=", 120}, true},
		{"x < 0.999", Comparison{"x", "<", 0.999}, true},
		{"x != 1e3", Comparison{"x", "!=", 1000}, true},
		{"x\n/\ny\n> 0.01\n", Comparison{"x\n/\ny", ">", 0.01}, true},
		{`x{a=~"b>1"} == 2`, Comparison{`x{a=~"b>1"}`, "==", 2}, true},
		{"sum(rate(x[5m])) > 0 # note", Comparison{"sum(rate(x[5m]))", ">", 0}, true},
		{"(a > 1)", Comparison{}, false},               // inside brackets
		{"a > b", Comparison{}, false},                 // not a number
		{"a > bool 1", Comparison{}, false},            // not a filter
		{"a > 1 and b", Comparison{}, false},           // and binds looser
		{"a and b > 1", Comparison{}, false},           // compares b only
		{"a unless on (w) b > 1", Comparison{}, false}, //
		{"> 1", Comparison{}, false},                   // no LHS
		{"x", Comparison{}, false},                     //
		{`x{a="<"}`, Comparison{}, false},              // in a string
		{"max by (w) (x) - min by (w) (x) > 0", Comparison{"max by (w) (x) - min by (w) (x)", ">", 0}, true},
		{"candor > 1", Comparison{"candor", ">", 1}, true}, // "and" inside a word
	} {
		got, ok := SplitComparison(tc.in)
		if ok != tc.ok {
			t.Errorf("SplitComparison(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("SplitComparison(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

// Every alert is `LHS op number`, so that a test that cannot make its
// condition true can check its LHS, except the two that combine conditions
// with "and".
func TestSplitComparisonOnAlerts(t *testing.T) {
	rf, err := LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rf.Alerts() {
		_, ok := SplitComparison(r.Expr)
		want := !strings.Contains(r.Expr, "\nand on (workflow)")
		if ok != want {
			t.Errorf("alert %s: SplitComparison ok = %v, want %v for:\n%s", r.Alert, ok, want, r.Expr)
		}
	}
}

// A split expression, put back together, splits the same way again.
func FuzzSplitComparison(f *testing.F) {
	for _, s := range []string{"a > 1", "max by (w) (x) - y < 0.5", `x{a="<"} >= 3`, "a and b > 1", "(a > 1)", "a > bool 1", "x # c\n> 2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := SplitComparison(s)
		if !ok {
			return
		}
		if c.LHS == "" {
			t.Fatalf("SplitComparison(%q): empty LHS", s)
		}
		again := c.LHS + " " + c.Op + " " + strconv.FormatFloat(c.Threshold, 'g', -1, 64)
		c2, ok := SplitComparison(again)
		if !ok {
			t.Fatalf("SplitComparison(%q) = %+v, but %q does not split", s, c, again)
		}
		if c2.LHS != c.LHS || c2.Op != c.Op || !(c2.Threshold == c.Threshold || c.Threshold != c.Threshold) {
			t.Fatalf("SplitComparison(%q) = %+v, then %q gives %+v", s, c, again, c2)
		}
	})
}
