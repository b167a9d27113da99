package embedded

import (
	"strconv"
	"strings"
)

// deleteChunk bounds the receipts one DELETE statement takes.
const deleteChunk = 16

type receiptKey struct{ seq, token int64 }

// deleteSQL deletes up to n deliveries in one statement: the rows are found
// by seq, and each is deleted only if its receipt is the one given with it.
// Parameters: the queue, the n seqs, then n (seq, receipt) pairs. The
// unary + keeps the planner off the queue's index: without it, a long IN
// list makes SQLite scan every message of the queue instead of looking up n
// rows.
func (w *writer) deleteSQL(n int) string {
	k := multiKey{head: "DELETE", n: n}
	q, ok := w.shapes[k]
	if !ok {
		q = deleteText(n)
		w.shapes[k] = q
	}
	return q
}

func deleteText(n int) string {
	var b strings.Builder
	b.WriteString(`DELETE FROM messages WHERE +queue = ?1 AND seq IN (`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("?" + strconv.Itoa(2+i))
	}
	b.WriteString(`) AND receipt = CASE seq`)
	for i := range n {
		p := 2 + n + 2*i
		b.WriteString(" WHEN ?" + strconv.Itoa(p) + " THEN ?" + strconv.Itoa(p+1))
	}
	b.WriteString(" END")
	return b.String()
}

// deleteRun is how many of keys, up to max, one statement deletes: a run
// without a repeated seq, since CASE would match only a seq's first
// receipt (a stale one beside the current one would shadow it).
func deleteRun(keys []receiptKey, max int) int {
	for n := 1; n < len(keys) && n < max; n++ {
		for _, k := range keys[:n] {
			if k.seq == keys[n].seq {
				return n
			}
		}
	}
	return min(len(keys), max)
}
