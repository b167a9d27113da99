package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cutover-dev/cutover/comparator"
)

// DiffOptions tunes the side-by-side text of one comparison.
type DiffOptions struct {
	Width   int // of each body column, in characters; default 60
	Context int // unchanged lines kept around changed ones; 0 keeps every line
}

// RenderDiff writes one comparison side by side (`cutover diff EVENT_ID`):
// text for a terminal, or the Explanation as JSON.
func RenderDiff(w io.Writer, f Format, e *comparator.Explanation, opt DiffOptions) error {
	switch f {
	case FormatJSON:
		return renderJSON(w, e)
	case FormatText:
		return renderDiffText(w, e, opt)
	}
	return fmt.Errorf("report: diff: format %q is not supported (want text or json)", f)
}

func renderDiffText(out io.Writer, e *comparator.Explanation, opt DiffOptions) error {
	if opt.Width <= 0 {
		opt.Width = 60
	}
	tw := &trimWriter{w: out}
	bw := bufio.NewWriter(tw)
	c := e.Comparison
	fmt.Fprintf(bw, "event %s   workflow %s   epoch %d   verdict %s   compared %s\n",
		safe(c.EventID), safe(c.Workflow), c.Epoch, c.Verdict, c.ComparedAt.Format(time.RFC3339))
	if c.Reason != "" {
		fmt.Fprintf(bw, "reason: %s\n", safe(c.Reason))
	}
	if e.VerdictNow != "" {
		fmt.Fprintf(bw, "note: the rules in force now give %s; the marks below follow them\n", e.VerdictNow)
	}
	fmt.Fprintf(bw, "latency: legacy %s, async %s\n", c.LegacyLatency, c.AsyncLatency)

	if e.Status.Legacy != 0 || e.Status.Async != 0 {
		fmt.Fprintf(bw, "\n%sstatus: legacy %d, async %d", marker(e.Status.Differs), e.Status.Legacy, e.Status.Async)
		if e.Status.Expected != e.Status.Legacy {
			fmt.Fprintf(bw, " (status_map expects %d)", e.Status.Expected)
		}
		fmt.Fprintln(bw)
	}
	if len(e.Headers) > 0 {
		fmt.Fprintln(bw)
		table(bw, "", []string{"  HEADER", "LEGACY", "ASYNC"}, func(row func(...string)) {
			for _, h := range e.Headers {
				note := ""
				if !h.Compared {
					note = "(not compared)"
				}
				row(marker(h.Differs)+safe(h.Name), clipText(headerText(h.Legacy), opt.Width), clipText(headerText(h.Async), opt.Width), note)
			}
		})
	}
	if len(c.Diffs) > 0 {
		fmt.Fprintln(bw)
		table(bw, "", []string{"  PATH", "LEGACY", "ASYNC"}, func(row func(...string)) {
			for _, d := range c.Diffs {
				row("! "+safe(d.Path), clipText(valueText(d.Legacy), opt.Width), clipText(valueText(d.Async), opt.Width))
			}
		})
	}

	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "  %s | %s\n", pad(sideTitle("LEGACY", e.Legacy), opt.Width), sideTitle("ASYNC", e.Async))
	rows := e.Rows()
	show := visible(rows, opt.Context)
	for i := 0; i < len(rows); i++ {
		if !show[i] {
			j := i
			for j < len(rows) && !show[j] {
				j++
			}
			fmt.Fprintf(bw, "  %s\n", fmt.Sprintf("... %d unchanged lines ...", j-i))
			i = j - 1
			continue
		}
		r := rows[i]
		fmt.Fprintf(bw, "%s%s | %s%s\n", lineMarker(r.Legacy), pad(lineText(r.Legacy, opt.Width), opt.Width), lineMarker(r.Async), lineText(r.Async, opt.Width))
	}
	if err := errors.Join(bw.Flush(), tw.Close()); err != nil {
		return fmt.Errorf("report: diff: %w", err)
	}
	return nil
}

// visible marks the rows to print: all of them, or with a context the
// marked rows and that many rows around each.
func visible(rows []comparator.Row, context int) []bool {
	show := make([]bool, len(rows))
	for i, r := range rows {
		if context <= 0 || marked(r) {
			for j := max(0, i-context); j <= min(len(rows)-1, i+context); j++ {
				show[j] = true
			}
		}
	}
	return show
}

func marked(r comparator.Row) bool {
	return (r.Legacy != nil && r.Legacy.Mark) || (r.Async != nil && r.Async.Mark)
}

func sideTitle(name string, v comparator.BodyView) string {
	if v.Size > 0 {
		return name + " (" + v.Kind + ", " + strconv.Itoa(v.Size) + " bytes)"
	}
	return name + " (" + v.Kind + ")"
}

func marker(on bool) string {
	if on {
		return "! "
	}
	return "  "
}

func lineMarker(l *comparator.Line) string { return marker(l != nil && l.Mark) }

func lineText(l *comparator.Line, width int) string {
	if l == nil {
		return ""
	}
	return clipText(safe(l.Text), width)
}

func headerText(v *string) string {
	if v == nil {
		return "(absent)"
	}
	return safe(*v)
}

func valueText(v []byte) string {
	if v == nil {
		return "(absent)"
	}
	return safe(string(v))
}

// clipText shortens s to width characters, marking the cut.
func clipText(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}
