package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover"
)

// Format names an output format of `cutover report --format`.
type Format string

// Report formats.
const (
	FormatText     Format = "text"
	FormatJSON     Format = "json"
	FormatMarkdown Format = "markdown"
	FormatHTML     Format = "html"
)

// ParseFormat reads a format name; "md" is accepted for markdown.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatText, FormatJSON, FormatMarkdown, FormatHTML:
		return f, nil
	case "md":
		return FormatMarkdown, nil
	}
	return "", fmt.Errorf("unknown format %q (want text, json, markdown or html)", s)
}

// Render writes rep in format f.
func Render(w io.Writer, f Format, rep *Report) error {
	switch f {
	case FormatText:
		return renderText(w, rep)
	case FormatJSON:
		return renderJSON(w, rep)
	case FormatMarkdown:
		return renderMarkdown(w, rep)
	case FormatHTML:
		return renderHTML(w, rep)
	}
	return fmt.Errorf("report: unknown format %q", f)
}

func renderJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	return nil
}

// Helpers shared by the text, Markdown and HTML renderers.

func ratePct(w Workflow) string {
	if w.Verdicts.comparable() == 0 {
		return "n/a"
	}
	return percentFloor(w.MatchRate)
}

func epochRate(e Epoch) string {
	if e.Verdicts.comparable() == 0 {
		return "n/a"
	}
	return percentFloor(e.MatchRate)
}

func modeText(w Workflow) string {
	switch {
	case w.Mode == "":
		return "unknown mode"
	case w.Mode == cutover.ModeCanary:
		return "canary " + strconv.FormatFloat(w.Percent, 'f', -1, 64) + "%"
	}
	return string(w.Mode)
}

func readyText(w Workflow) string {
	if w.Ready {
		return "READY"
	}
	return "NOT READY"
}

func dlqText(w Workflow) string {
	if w.DLQ == nil {
		return "unknown"
	}
	return strconv.FormatInt(*w.DLQ, 10)
}

func ms(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "ms" }

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

func count(n int64) string { return strconv.FormatInt(n, 10) }

func sharePct(x float64) string { return strconv.FormatFloat(x*100, 'f', 1, 64) + "%" }

func examples(ids []string) string { return strings.Join(ids, ", ") }

// safe escapes control characters, so that a key or id taken from a
// response cannot move the cursor or clear the terminal it is printed on.
func safe(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, `\x%02x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
