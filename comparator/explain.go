package comparator

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cutover-dev/cutover"
)

// Explanation lays one comparison out for a person (`cutover diff`): both
// bodies pretty-printed in canonical form with the differing paths marked,
// and the status and headers side by side. Elements of unordered arrays are
// printed in the order that lines async up with legacy.
type Explanation struct {
	Comparison *cutover.Comparison `json:"comparison"`
	// VerdictNow is set when today's rules reach another verdict than the
	// stored comparison did (the rules changed since).
	VerdictNow cutover.Verdict `json:"verdict_now,omitempty"`
	Status     StatusRow       `json:"status"`
	Headers    []HeaderRow     `json:"headers,omitempty"`
	Legacy     BodyView        `json:"legacy"`
	Async      BodyView        `json:"async"`
}

// StatusRow is the status of both sides; Expected is the async status that
// would match (after status_map).
type StatusRow struct {
	Legacy   int  `json:"legacy"`
	Async    int  `json:"async"`
	Expected int  `json:"expected"`
	Differs  bool `json:"differs"`
}

// HeaderRow is one header on both sides; a nil side is absent. Only
// Compared headers (the allow-list) can differ.
type HeaderRow struct {
	Name     string  `json:"name"`
	Legacy   *string `json:"legacy"`
	Async    *string `json:"async"`
	Compared bool    `json:"compared"`
	Differs  bool    `json:"differs"`
}

// Body view kinds.
const (
	ViewJSON    = "json"
	ViewText    = "text"
	ViewBinary  = "binary"
	ViewEmpty   = "empty"
	ViewFailed  = "failed" // the side produced no response; Lines say why
	ViewMissing = "missing"
	ViewSkipped = "skipped"
)

// BodyView is one side's body as lines.
type BodyView struct {
	Kind  string `json:"kind"`
	Size  int    `json:"size"`
	Lines []Line `json:"lines,omitempty"`
}

// Line is one printed line. Path is the JSON path the line belongs to; Mark
// is set on every line of a differing value.
type Line struct {
	Text string `json:"text"`
	Path string `json:"path,omitempty"`
	Mark bool   `json:"mark,omitempty"`
	key  string // identifies the line across sides, for Rows
}

// Explain compares pair again and lays it out. stored, when not nil, is the
// recorded comparison shown as the verdict; the marks always come from the
// rules in force, so that they line up with what is printed.
func (r *Rules) Explain(pair cutover.OutcomePair, stored *cutover.Comparison) *Explanation {
	fresh, b := r.compare(pair, true)
	e := &Explanation{Comparison: fresh}
	if stored != nil {
		e.Comparison = stored
		if stored.Verdict != fresh.Verdict {
			e.VerdictNow = fresh.Verdict
		}
	}
	marks := map[string]bool{}
	for _, d := range fresh.Diffs {
		marks[d.Path] = true
	}
	if !pair.Legacy.Failed() && !pair.Async.Failed() {
		e.Status = StatusRow{
			Legacy: pair.Legacy.Status, Async: pair.Async.Status,
			Expected: r.expectedStatus(pair.Legacy.Status), Differs: marks[StatusPath],
		}
		e.Headers = r.headerRows(pair.Legacy, pair.Async, marks)
	}
	switch {
	case b != nil && b.json:
		e.Legacy = jsonView(&b.legacy, len(pair.Legacy.Body), marks)
		e.Async = jsonView(&b.async, len(pair.Async.Body), marks)
	default:
		e.Legacy = rawView(pair.Legacy, marks[BodyPath])
		e.Async = rawView(pair.Async, marks[BodyPath])
		if e.Legacy.Kind == ViewText && e.Async.Kind == ViewText {
			markLines(e.Legacy.Lines, e.Async.Lines)
		}
	}
	return e
}

// markLines marks only the lines of two text bodies that differ, line by
// line, rather than the whole body.
func markLines(l, a []Line) {
	for i := range max(len(l), len(a)) {
		same := i < len(l) && i < len(a) && l[i].Text == a[i].Text
		if i < len(l) {
			l[i].Mark = !same
		}
		if i < len(a) {
			a[i].Mark = !same
		}
	}
}

func (r *Rules) headerRows(legacy, async *cutover.Outcome, marks map[string]bool) []HeaderRow {
	names := map[string]bool{}
	for _, h := range []map[string][]string{legacy.Header, async.Header} {
		for k := range h {
			names[http.CanonicalHeaderKey(k)] = true
		}
	}
	for _, h := range r.headers {
		names[h] = true
	}
	var rows []HeaderRow
	for _, name := range slices.Sorted(maps.Keys(names)) {
		row := HeaderRow{Name: name, Compared: slices.Contains(r.headers, name), Differs: marks[HeaderPrefix+name]}
		if v, ok := headerValue(legacy, name); ok {
			row.Legacy = &v
		}
		if v, ok := headerValue(async, name); ok {
			row.Async = &v
		}
		if row.Legacy != nil || row.Async != nil {
			rows = append(rows, row)
		}
	}
	return rows
}

func rawView(o *cutover.Outcome, marked bool) BodyView {
	switch {
	case o == nil:
		return BodyView{Kind: ViewMissing, Lines: []Line{{Text: "(no outcome)", key: "x"}}}
	case o.Skipped != "":
		return BodyView{Kind: ViewSkipped, Lines: []Line{{Text: "(not run: " + o.Skipped + ")", key: "x"}}}
	case o.Error != "":
		return BodyView{Kind: ViewFailed, Lines: []Line{{Text: "(failed: " + o.Error + ")", key: "x"}}}
	case o.Missing:
		return BodyView{Kind: ViewMissing, Lines: []Line{{Text: "(no outcome before the deadline)", key: "x"}}}
	case len(o.Body) == 0 && o.BodyRef != "":
		return BodyView{Kind: ViewBinary, Lines: []Line{{Text: "(stored as blob " + o.BodyRef + ")", key: "x"}}}
	case len(o.Body) == 0:
		return BodyView{Kind: ViewEmpty}
	case !utf8.Valid(o.Body):
		sum := sha256.Sum256(o.Body)
		text := "(" + strconv.Itoa(len(o.Body)) + " bytes of binary data, sha256:" + hex.EncodeToString(sum[:8]) + "…)"
		return BodyView{Kind: ViewBinary, Size: len(o.Body), Lines: []Line{{Text: text, Path: BodyPath, Mark: marked, key: "x"}}}
	}
	if n, ok := parse(o.Body); ok { // JSON against a non-JSON other side
		return jsonView(&n, len(o.Body), map[string]bool{BodyPath: marked})
	}
	v := BodyView{Kind: ViewText, Size: len(o.Body)}
	for i, l := range strings.Split(strings.TrimSuffix(string(o.Body), "\n"), "\n") {
		v.Lines = append(v.Lines, Line{Text: l, Path: BodyPath, Mark: marked, key: "line" + strconv.Itoa(i)})
	}
	return v
}

func jsonView(n *node, size int, marks map[string]bool) BodyView {
	p := printer{marks: marks}
	p.value(n, 0, "", false, false)
	return BodyView{Kind: ViewJSON, Size: size, Lines: p.lines}
}

// printer pretty-prints a tree with two-space indentation.
type printer struct {
	marks map[string]bool
	path  []step
	lines []Line
}

func (p *printer) line(text string, mark bool, role string) {
	path := pathString(p.path)
	p.lines = append(p.lines, Line{Text: text, Path: path, Mark: mark, key: role + path})
}

// value prints n; prefix is `"key": ` for members, comma whether a comma
// follows, marked whether an ancestor is marked.
func (p *printer) value(n *node, depth int, prefix string, comma, marked bool) {
	indent := strings.Repeat("  ", depth)
	marked = marked || p.marks[pathString(p.path)]
	tail := ""
	if comma {
		tail = ","
	}
	open, close := "", ""
	switch n.kind {
	case kindObject:
		open, close = "{", "}"
	case kindArray:
		open, close = "[", "]"
	default:
		p.line(indent+prefix+string(canonical(n))+tail, marked, "=")
		return
	}
	if len(n.kids) == 0 {
		p.line(indent+prefix+open+close+tail, marked, "=")
		return
	}
	p.line(indent+prefix+open, marked, "{")
	last := len(n.kids) - 1
	for last >= 0 && n.kids[last].kind == kindHole {
		last--
	}
	for i := range n.kids {
		k := &n.kids[i]
		if k.kind == kindHole {
			continue
		}
		s, kp := step{index: i, isIndex: true}, ""
		if n.kind == kindObject {
			s, kp = step{key: k.key}, quote(k.key)+": "
		}
		p.path = append(p.path, s)
		p.value(k, depth+1, kp, i < last, marked)
		p.path = p.path[:len(p.path)-1]
	}
	p.line(indent+close+tail, marked, "}")
}

// Row is one row of the side-by-side view; a nil side has no line there.
type Row struct {
	Legacy, Async *Line
}

// Rows lines the two bodies up: lines of the same path share a row, and a
// path present on one side only gets a row with an empty other side. Both
// sides are printed in canonical order, so one forward pass suffices.
func (e *Explanation) Rows() []Row {
	l, a := e.Legacy.Lines, e.Async.Lines
	if e.Legacy.Kind != ViewJSON || e.Async.Kind != ViewJSON {
		// Text, or a side without a body: nothing to line up by path.
		rows := make([]Row, max(len(l), len(a)))
		for k := range rows {
			if k < len(l) {
				rows[k].Legacy = &l[k]
			}
			if k < len(a) {
				rows[k].Async = &a[k]
			}
		}
		return rows
	}
	i, j := 0, 0
	posL := make(map[string]int, len(l))
	for i, x := range l {
		posL[x.key] = i
	}
	posA := make(map[string]int, len(a))
	for j, x := range a {
		posA[x.key] = j
	}
	laterL := func(k string) bool { p, ok := posL[k]; return ok && p > i }
	laterA := func(k string) bool { p, ok := posA[k]; return ok && p > j }
	var rows []Row
	for i < len(l) || j < len(a) {
		switch {
		case i < len(l) && j < len(a) && l[i].key == a[j].key:
			rows = append(rows, Row{&l[i], &a[j]})
			i++
			j++
		case i < len(l) && !laterA(l[i].key): // removed before added
			rows = append(rows, Row{&l[i], nil})
			i++
		case j < len(a) && !laterL(a[j].key):
			rows = append(rows, Row{nil, &a[j]})
			j++
		default: // each appears later on the other side: the orders cross
			rows = append(rows, Row{&l[i], &a[j]})
			i++
			j++
		}
	}
	return rows
}
