package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cutover-dev/cutover"
)

// renderMarkdown writes the report as GitHub-flavoured Markdown, to paste
// into a ticket or a pull request.
func renderMarkdown(out io.Writer, rep *Report) error {
	bw := bufio.NewWriter(out)
	fmt.Fprintf(bw, "# cutover report\n\nGenerated %s, window %s to %s (%s).\n",
		rep.GeneratedAt.Format(time.RFC3339), rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), rep.Until.Sub(rep.Since))
	if len(rep.Workflows) > 0 {
		fmt.Fprintf(bw, "\n| workflow | mode | ready | compared | match rate | dlq |\n|---|---|---|---:|---:|---:|\n")
		for _, w := range rep.Workflows {
			fmt.Fprintf(bw, "| %s | %s | %s | %d | %s | %s |\n", mdCode(w.Name), modeText(w), readyText(w), w.Compared, ratePct(w), dlqText(w))
		}
	}
	for _, w := range rep.Workflows {
		fmt.Fprintf(bw, "\n## %s: %s, %s\n\n", mdCode(w.Name), modeText(w), readyText(w))
		fmt.Fprintf(bw, "Compared %d, match rate %s, DLQ %s.", w.Compared, ratePct(w), dlqText(w))
		if w.Superseded > 0 {
			fmt.Fprintf(bw, " %d earlier verdicts were replaced by replays.", w.Superseded)
		}
		fmt.Fprintf(bw, " Latency p50/p99: legacy %s / %s, async %s / %s.\n\n",
			ms(w.LatencyMS.Legacy.P50), ms(w.LatencyMS.Legacy.P99), ms(w.LatencyMS.Async.P50), ms(w.LatencyMS.Async.P99))

		var head, rule, cells []string
		for _, v := range cutover.Verdicts() {
			head = append(head, string(v))
			rule = append(rule, "---:")
			cells = append(cells, count(w.Verdicts[v]))
		}
		mdRow(bw, head...)
		mdRow(bw, rule...)
		mdRow(bw, cells...)

		fmt.Fprintf(bw, "\n### Readiness gate (over %s)\n\n", w.GateWindow)
		mdRow(bw, "check", "", "got", "want")
		mdRow(bw, "---", "---", "---", "---")
		for _, c := range w.Gate.Checks {
			mark := "✅"
			if !c.OK {
				mark = "❌"
			}
			mdRow(bw, mdCode(c.Name), mark, mdText(c.Got), mdText(c.Want))
		}
		if len(w.TopDiffs) > 0 {
			fmt.Fprintf(bw, "\n### Top diffs\n\n")
			mdRow(bw, "path", "count", "examples")
			mdRow(bw, "---", "---:", "---")
			for _, d := range w.TopDiffs {
				mdRow(bw, mdCode(d.Path), count(d.Count), mdCodes(d.Examples))
			}
		}
		if len(w.Fingerprints) > 0 {
			fmt.Fprintf(bw, "\n### Mismatch fingerprints\n\n")
			mdRow(bw, "count", "paths", "example")
			mdRow(bw, "---:", "---", "---")
			for _, f := range w.Fingerprints {
				mdRow(bw, count(f.Count), mdCodes(f.Paths), mdCode(f.Example))
			}
		}
		if len(w.Epochs) > 1 || (len(w.Epochs) == 1 && w.Epochs[0].Epoch > 0) {
			fmt.Fprintf(bw, "\n### Replay epochs (before/after)\n\n")
			mdRow(bw, append(append([]string{"epoch", "compared"}, head...), "match rate")...)
			mdRow(bw, append(append([]string{"---:", "---:"}, rule...), "---:")...)
			for _, e := range w.Epochs {
				row := []string{fmt.Sprint(e.Epoch), count(e.Compared)}
				for _, v := range cutover.Verdicts() {
					row = append(row, count(e.Verdicts[v]))
				}
				mdRow(bw, append(row, epochRate(e))...)
			}
		}
		if len(w.Noise.Paths) > 0 {
			fmt.Fprintf(bw, "\n### Noise suggestions\n\nThese paths differ in nearly every comparison with ever-new values (ids, timestamps). Review them, then set in workflow %s:\n\n", mdCode(w.Name))
			mdRow(bw, "path", "differs in", "distinct values")
			mdRow(bw, "---", "---:", "---:")
			for _, n := range w.Noise.Paths {
				mdRow(bw, mdCode(n.Path), sharePct(n.Share)+" ("+count(n.Count)+")", fmt.Sprint(n.Distinct))
			}
			fmt.Fprintf(bw, "\n```yaml\n%s```\n", w.Noise.YAML)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: markdown: %w", err)
	}
	return nil
}

func mdRow(w io.Writer, cells ...string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

// mdCode is s as a code span that survives a table cell: pipes escaped, a
// longer fence when s holds a backtick.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(safe(s), "|", `\|`)
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

func mdCodes(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = mdCode(s)
	}
	return strings.Join(out, " ")
}

// mdText escapes what Markdown would read as markup in a table cell.
func mdText(s string) string {
	return strings.NewReplacer(`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", "[", `\[`).Replace(safe(s))
}
