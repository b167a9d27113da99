package dashboards

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Kind says where a query comes from.
type Kind string

// Kinds of queries.
const (
	KindPanel      Kind = "panel"      // a panel target
	KindAnnotation Kind = "annotation" // a Prometheus annotation
	KindVariable   Kind = "variable"   // a label_values template variable
	KindRecord     Kind = "record"     // a recording rule
	KindAlert      Kind = "alert"      // an alerting rule
)

// Query is one PromQL expression found in a dashboard or the rules file.
type Query struct {
	File  string // dashboard file name, or RulesFile
	Where string // e.g. `panel "Mode" target A`, `alert CutoverDLQNotEmpty`
	Kind  Kind
	// Expr is the expression with template variables substituted. For a
	// variable it is the series selector of label_values(SELECTOR, LABEL).
	Expr string
	// Label is, for a variable, the label whose values it lists.
	Label string
	// Rule is, for a rule, the alert or recorded series name.
	Rule string
}

func (q Query) String() string { return q.File + ": " + q.Where }

// Queries lists every PromQL expression of the dashboards and rules, with
// Grafana template variables ($name, ${name}, ${name:format}, [[name]])
// replaced by vars[name]. Every variable used must be in vars, built-in
// ones ($__rate_interval, $__range, ...) included: an unknown variable is an
// error, so a typo in a dashboard does not go unnoticed.
func Queries(vars map[string]string) ([]Query, error) {
	var out []Query
	var errs []string
	add := func(q Query, raw string) {
		expr, err := Expand(raw, vars)
		if err != nil {
			errs = append(errs, q.String()+": "+err.Error())
			return
		}
		q.Expr = expr
		out = append(out, q)
	}
	for _, name := range DashboardFiles() {
		d, err := LoadDashboard(name)
		if err != nil {
			return nil, err
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			qs, err := v.QueryString()
			if err != nil {
				return nil, fmt.Errorf("dashboards: %s: %w", name, err)
			}
			sel, label, err := LabelValues(qs)
			if err != nil {
				return nil, fmt.Errorf("dashboards: %s: variable %s: %w", name, v.Name, err)
			}
			add(Query{File: name, Where: "variable " + v.Name, Kind: KindVariable, Label: label}, sel)
		}
		for _, a := range d.Annotations.List {
			if a.Expr != "" {
				add(Query{File: name, Where: fmt.Sprintf("annotation %q", a.Name), Kind: KindAnnotation}, a.Expr)
			}
		}
		for _, p := range d.AllPanels() {
			for _, t := range p.Targets {
				add(Query{File: name, Where: p.where(t), Kind: KindPanel}, t.Expr)
			}
		}
	}
	rf, err := LoadRules()
	if err != nil {
		return nil, err
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			q := Query{File: RulesFile, Rule: r.Name(), Expr: strings.TrimSpace(r.Expr)}
			if r.Alert != "" {
				q.Kind, q.Where = KindAlert, "alert "+r.Alert
			} else {
				q.Kind, q.Where = KindRecord, "record "+r.Record
			}
			out = append(out, q)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("dashboards: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// varRe matches Grafana's variable syntaxes: ${name}, ${name:format},
// $name and [[name]].
var varRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]`)

// Expand replaces the template variables in expr with their values in
// vars. It fails naming every variable that vars lacks.
func Expand(expr string, vars map[string]string) (string, error) {
	missing := map[string]bool{}
	out := varRe.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRe.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3] // exactly one group matched
		v, ok := vars[name]
		if !ok {
			missing[name] = true
			return m
		}
		return v
	})
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, "$"+n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("unknown variable %s", strings.Join(names, ", "))
	}
	return out, nil
}

// Variables returns the names of the template variables used in expr, in
// order of first use.
func Variables(expr string) []string {
	var names []string
	seen := map[string]bool{}
	for _, sub := range varRe.FindAllStringSubmatch(expr, -1) {
		n := sub[1] + sub[2] + sub[3]
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}
