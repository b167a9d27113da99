package dashboards

import (
	"strconv"
	"strings"
)

// Comparison is an expression of the form `LHS op threshold`: the shape of
// most alert conditions.
type Comparison struct {
	LHS       string
	Op        string // ==, !=, >, <, >=, <=
	Threshold float64
}

// SplitComparison splits expr into the value it compares and the threshold,
// when expr's outermost operation is a filtering comparison with a number:
// `max by (job) (x) > 0` gives LHS `max by (job) (x)`. An alert whose
// condition a test cannot make true can then at least have its LHS checked
// for series. ok is false for any other shape, including `bool`
// comparisons and comparisons that a top-level and/or/unless binds looser
// than (`a and b > 0` compares b only).
func SplitComparison(expr string) (c Comparison, ok bool) {
	expr = stripComments(expr)
	opStart, opEnd := lastTopLevelComparison(expr)
	if opStart < 0 {
		return Comparison{}, false
	}
	lhs := strings.TrimSpace(expr[:opStart])
	rhs := strings.TrimSpace(expr[opEnd:])
	if lhs == "" || hasTopLevelSetOp(lhs) {
		return Comparison{}, false
	}
	v, err := strconv.ParseFloat(rhs, 64)
	if err != nil || strings.ContainsAny(rhs, " \t\n") {
		return Comparison{}, false
	}
	return Comparison{LHS: lhs, Op: expr[opStart:opEnd], Threshold: v}, true
}

// stripComments removes # comments (outside string literals).
func stripComments(expr string) string {
	var b strings.Builder
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; c {
		case '"', '\'', '`':
			j := i + 1
			for ; j < len(expr) && expr[j] != c; j++ {
				if expr[j] == '\\' && c != '`' {
					j++
				}
			}
			j = min(j, len(expr)-1)
			b.WriteString(expr[i : j+1])
			i = j
		case '#':
			for i+1 < len(expr) && expr[i+1] != '\n' {
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// scan calls visit for every byte of expr outside string literals, with
// the bracket depth at that byte.
func scan(expr string, visit func(i, depth int)) {
	depth := 0
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; c {
		case '"', '\'', '`':
			for i++; i < len(expr) && expr[i] != c; i++ {
				if expr[i] == '\\' && c != '`' {
					i++
				}
			}
			continue
		case '(', '{', '[':
			depth++
		case ')', '}', ']':
			depth--
		default:
			visit(i, depth)
		}
	}
}

// lastTopLevelComparison returns the byte range of the last comparison
// operator outside brackets, or -1, -1.
func lastTopLevelComparison(expr string) (start, end int) {
	start, end = -1, -1
	skip := -1
	scan(expr, func(i, depth int) {
		if depth != 0 || i <= skip {
			return
		}
		two := ""
		if i+1 < len(expr) {
			two = expr[i : i+2]
		}
		switch {
		case two == "==" || two == "!=" || two == ">=" || two == "<=":
			start, end, skip = i, i+2, i+1
		case two == "=~" || two == "!~":
			skip = i + 1 // a matcher outside braces: not a comparison
		case expr[i] == '>' || expr[i] == '<':
			start, end = i, i+1
		}
	})
	if start >= 0 {
		rest := strings.TrimSpace(expr[end:])
		if rest == "bool" || strings.HasPrefix(rest, "bool ") || strings.HasPrefix(rest, "bool\t") || strings.HasPrefix(rest, "bool\n") {
			return -1, -1
		}
	}
	return start, end
}

// hasTopLevelSetOp reports whether expr has and/or/unless outside brackets.
func hasTopLevelSetOp(expr string) bool {
	found := false
	var word strings.Builder
	flush := func() {
		switch word.String() {
		case "and", "or", "unless":
			found = true
		}
		word.Reset()
	}
	scan(expr, func(i, depth int) {
		c := expr[i]
		if depth == 0 && (c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			word.WriteByte(c)
			return
		}
		flush()
	})
	flush()
	return found
}
