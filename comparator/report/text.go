package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cutover-dev/cutover"
)

// renderText writes the terminal report: one block per workflow, tables in
// aligned columns.
func renderText(out io.Writer, rep *Report) error {
	tw := &trimWriter{w: out}
	bw := bufio.NewWriter(tw)
	fmt.Fprintf(bw, "cutover report   generated %s   window %s .. %s (%s)\n",
		rep.GeneratedAt.Format(time.RFC3339), rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), rep.Until.Sub(rep.Since))
	if len(rep.Workflows) == 0 {
		fmt.Fprintln(bw, "\nno workflows")
	}
	for _, w := range rep.Workflows {
		fmt.Fprintf(bw, "\n%s   %s   %s\n", safe(w.Name), modeText(w), readyText(w))
		fmt.Fprintf(bw, "  compared %d   match rate %s   dlq %s", w.Compared, ratePct(w), dlqText(w))
		if w.Superseded > 0 {
			fmt.Fprintf(bw, "   (%d earlier verdicts replaced by replays)", w.Superseded)
		}
		fmt.Fprintln(bw)
		var vs []string
		for _, v := range cutover.Verdicts() {
			vs = append(vs, fmt.Sprintf("%s %d", v, w.Verdicts[v]))
		}
		fmt.Fprintf(bw, "  verdicts   %s\n", strings.Join(vs, "   "))
		fmt.Fprintf(bw, "  latency    legacy p50 %s p99 %s   async p50 %s p99 %s\n",
			ms(w.LatencyMS.Legacy.P50), ms(w.LatencyMS.Legacy.P99), ms(w.LatencyMS.Async.P50), ms(w.LatencyMS.Async.P99))

		fmt.Fprintf(bw, "\n  gate (over %s)\n", w.GateWindow)
		table(bw, "    ", []string{"CHECK", "RESULT", "GOT", "WANT"}, func(row func(...string)) {
			for _, c := range w.Gate.Checks {
				row(c.Name, okText(c.OK), safe(c.Got), safe(c.Want))
			}
		})
		if len(w.TopDiffs) > 0 {
			fmt.Fprintf(bw, "\n  top diffs\n")
			table(bw, "    ", []string{"PATH", "COUNT", "EXAMPLES"}, func(row func(...string)) {
				for _, d := range w.TopDiffs {
					row(safe(d.Path), count(d.Count), safe(fewExamples(d.Examples)))
				}
			})
		}
		if len(w.Fingerprints) > 0 {
			fmt.Fprintf(bw, "\n  mismatch fingerprints\n")
			table(bw, "    ", []string{"COUNT", "EXAMPLE", "PATHS"}, func(row func(...string)) {
				for _, f := range w.Fingerprints {
					row(count(f.Count), safe(f.Example), safe(strings.Join(f.Paths, " ")))
				}
			})
		}
		if len(w.Epochs) > 1 || (len(w.Epochs) == 1 && w.Epochs[0].Epoch > 0) {
			fmt.Fprintf(bw, "\n  replay epochs (before/after)\n")
			head := []string{"EPOCH", "COMPARED"}
			for _, v := range cutover.Verdicts() {
				head = append(head, strings.ToUpper(string(v)))
			}
			table(bw, "    ", append(head, "MATCH RATE"), func(row func(...string)) {
				for _, e := range w.Epochs {
					cells := []string{fmt.Sprint(e.Epoch), count(e.Compared)}
					for _, v := range cutover.Verdicts() {
						cells = append(cells, count(e.Verdicts[v]))
					}
					row(append(cells, epochRate(e))...)
				}
			})
		}
		if len(w.Noise.Paths) > 0 {
			fmt.Fprintf(bw, "\n  noise: paths that differ in nearly every comparison with ever-new values\n")
			table(bw, "    ", []string{"PATH", "DIFFERS IN", "DISTINCT VALUES"}, func(row func(...string)) {
				for _, n := range w.Noise.Paths {
					row(safe(n.Path), sharePct(n.Share)+" ("+count(n.Count)+")", fmt.Sprint(n.Distinct))
				}
			})
			fmt.Fprintf(bw, "    review, then set in workflow %s:\n", safe(w.Name))
			for _, line := range strings.Split(strings.TrimSuffix(w.Noise.YAML, "\n"), "\n") {
				fmt.Fprintf(bw, "      %s\n", line)
			}
		}
	}
	if err := errors.Join(bw.Flush(), tw.Close()); err != nil {
		return fmt.Errorf("report: text: %w", err)
	}
	return nil
}

// fewExamples keeps terminal lines short: two ids, then how many more.
func fewExamples(ids []string) string {
	if len(ids) <= 2 {
		return examples(ids)
	}
	return examples(ids[:2]) + fmt.Sprintf(" (+%d)", len(ids)-2)
}

// table writes aligned columns under a header.
func table(w io.Writer, indent string, head []string, rows func(row func(...string))) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells ...string) {
		fmt.Fprintln(tw, indent+strings.Join(cells, "\t"))
	}
	line(head...)
	rows(line)
	tw.Flush()
}

// trimWriter drops trailing spaces from every line, which aligned columns
// leave behind and which diffs of golden files and terminals do not need.
type trimWriter struct {
	w       io.Writer
	pending []byte // the current line, not yet complete
}

func (t *trimWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.pending = append(t.pending, p...)
			break
		}
		t.pending = append(bytes.TrimRight(append(t.pending, p[:i]...), " "), '\n')
		if _, err := t.w.Write(t.pending); err != nil {
			return 0, err
		}
		t.pending = t.pending[:0]
		p = p[i+1:]
	}
	return n, nil
}

// Close writes what is left of an unterminated last line.
func (t *trimWriter) Close() error {
	if len(t.pending) == 0 {
		return nil
	}
	_, err := t.w.Write(bytes.TrimRight(t.pending, " "))
	t.pending = nil
	return err
}
