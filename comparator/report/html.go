package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"

	"github.com/cutover-dev/cutover"
)

//go:embed templates/report.html.tmpl
var templates embed.FS

// reportTemplate is parsed once; it is read-only after that. The page is
// one self-contained file: inline CSS, no scripts, no external assets, and
// html/template escapes every value taken from the store.
var reportTemplate = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"mode":        modeText,
	"rate":        ratePct,
	"epochRate":   epochRate,
	"dlq":         dlqText,
	"ms":          ms,
	"pct":         sharePct,
	"verdicts":    cutover.Verdicts,
	"window":      func(r *Report) string { return r.Until.Sub(r.Since).String() },
	"epochsShown": func(w Workflow) bool { return len(w.Epochs) > 1 || (len(w.Epochs) == 1 && w.Epochs[0].Epoch > 0) },
	"share": func(w Workflow, n int64) float64 {
		if w.Compared == 0 {
			return 0
		}
		return roundTo(float64(n)*100/float64(w.Compared), 2)
	},
}).ParseFS(templates, "templates/report.html.tmpl"))

func renderHTML(w io.Writer, rep *Report) error {
	if err := reportTemplate.Execute(w, rep); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}
