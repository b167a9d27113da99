package embedded

import (
	"strings"
	"time"
)

// filter builds the WHERE clause of a query from optional conditions: the
// shape every list query (events, comparisons) shares.
type filter struct {
	where []string
	args  []any
}

// eq adds col = v unless v is empty.
func (f *filter) eq(col string, v string) {
	if v != "" {
		f.add(col+" = ?", v)
	}
}

func (f *filter) add(cond string, arg any) {
	f.where = append(f.where, cond)
	f.args = append(f.args, arg)
}

// between adds col in [since, until), each bound only when set.
func (f *filter) between(col string, since, until time.Time) {
	if !since.IsZero() {
		f.add(col+" >= ?", since.UnixNano())
	}
	if !until.IsZero() {
		f.add(col+" < ?", until.UnixNano())
	}
}

// query returns "base WHERE ... ORDER BY order LIMIT ?" and its arguments.
func (f *filter) query(base, order string, limit int) (string, []any) {
	q := base
	if len(f.where) > 0 {
		q += " WHERE " + strings.Join(f.where, " AND ")
	}
	return q + " ORDER BY " + order + " LIMIT ?", append(f.args, limit)
}
