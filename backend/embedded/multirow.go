package embedded

import "strings"

// multiRow returns head followed by n groups of cols placeholders:
// "INSERT ... VALUES (?,?),(?,?)" for n=2, cols=2. The writer caches the
// text so that each shape is built and prepared once.
func (w *writer) multiRow(head string, cols, n int, tail string) string {
	k := multiKey{head, cols, n, tail}
	if q, ok := w.shapes[k]; ok {
		return q
	}
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	var b strings.Builder
	b.WriteString(head)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(group)
	}
	b.WriteString(tail)
	q := b.String()
	w.shapes[k] = q
	return q
}

type multiKey struct {
	head    string
	cols, n int
	tail    string
}
