package comparator

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Numbers compare by exact decimal value: 1, 1.0, 1e0 and 10e-1 are equal,
// and so are two 20-digit ids only if every digit agrees (float64 would call
// 12345678901234567890 and 12345678901234567891 equal).

// numbersEqual reports whether two JSON number literals have the same value,
// or values within tol of each other when tol > 0.
func numbersEqual(a, b string, tol float64) bool {
	if a == b || canonNumber(a) == canonNumber(b) {
		return true
	}
	if tol <= 0 {
		return false
	}
	x, _ := strconv.ParseFloat(a, 64) // out of range: ±Inf or 0, which is what tolerance can use
	y, _ := strconv.ParseFloat(b, 64)
	// The slack of a few ulps makes the bound inclusive as written: with
	// tolerance 0.005, 1.99 and 1.995 are equal though float64 puts them
	// 0.00500000000000012 apart.
	slack := math.Max(math.Abs(x), math.Abs(y)) * 1e-15
	return math.Abs(x-y) <= tol+slack
}

// plainInteger reports whether lit is already canonical: an integer without
// a leading zero and not negative zero, which is the common case in bodies.
func plainInteger(lit string) bool {
	digits := strings.TrimPrefix(lit, "-")
	if digits == "" || (digits[0] == '0' && (len(digits) > 1 || len(digits) < len(lit))) {
		return false
	}
	if len(digits) > 21 {
		return false // written in exponent form, as JavaScript would
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// canonNumber returns the canonical spelling of a valid JSON number literal:
// the shortest exact decimal, in the layout ECMAScript uses for numbers
// (RFC 8785), but without rounding to float64: 1.50 -> 1.5, 1e2 -> 100,
// -0 -> 0, 1e21 -> 1e+21, 0.0000001 -> 1e-7.
func canonNumber(lit string) string {
	if plainInteger(lit) {
		return lit
	}
	neg := strings.HasPrefix(lit, "-")
	s := strings.TrimPrefix(lit, "-")
	mant, exp, _ := strings.Cut(strings.ReplaceAll(s, "E", "e"), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	if trimmed == "" {
		return "0"
	}
	// value = trimmed × 10^(e10 - len(frac) + trailing zeros removed)
	shift := int64(len(digits)-len(trimmed)) - int64(len(frac))
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	e10, small := smallExponent(exp)
	if !small {
		bigExponent(&b, trimmed, exp, shift)
		return b.String()
	}
	k := int64(len(trimmed))
	n := k + e10 + shift // value = 0.trimmed × 10^n
	switch {
	case k <= n && n <= 21:
		b.WriteString(trimmed)
		b.WriteString(strings.Repeat("0", int(n-k)))
	case 0 < n && n <= 21:
		b.WriteString(trimmed[:n])
		b.WriteByte('.')
		b.WriteString(trimmed[n:])
	case -6 < n && n <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", int(-n)))
		b.WriteString(trimmed)
	default:
		writeMantissa(&b, trimmed)
		b.WriteByte('e')
		if n-1 >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.FormatInt(n-1, 10))
	}
	return b.String()
}

// smallExponent parses an exponent that fits comfortably in an int64.
func smallExponent(exp string) (int64, bool) {
	if exp == "" {
		return 0, true
	}
	sign := int64(1)
	switch exp[0] {
	case '-':
		sign, exp = -1, exp[1:]
	case '+':
		exp = exp[1:]
	}
	exp = strings.TrimLeft(exp, "0")
	if len(exp) > 15 {
		return 0, false
	}
	if exp == "" {
		return 0, true
	}
	v, err := strconv.ParseInt(exp, 10, 64)
	return sign * v, err == nil
}

// bigExponent writes the exponent form for exponents too large for int64
// arithmetic; such a number is always far outside the plain layouts.
func bigExponent(b *strings.Builder, trimmed, exp string, shift int64) {
	e, _ := new(big.Int).SetString(strings.TrimPrefix(exp, "+"), 10)
	e.Add(e, big.NewInt(shift+int64(len(trimmed))-1))
	writeMantissa(b, trimmed)
	b.WriteByte('e')
	if e.Sign() >= 0 {
		b.WriteByte('+')
	}
	b.WriteString(e.String())
}

func writeMantissa(b *strings.Builder, digits string) {
	b.WriteByte(digits[0])
	if len(digits) > 1 {
		b.WriteByte('.')
		b.WriteString(digits[1:])
	}
}
