package dashboards

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// Dashboard is the part of a Grafana dashboard's JSON model that the checks
// and the query inventory need.
type Dashboard struct {
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	Description   string   `json:"description"`
	SchemaVersion int      `json:"schemaVersion"`
	Tags          []string `json:"tags"`
	Panels        []Panel  `json:"panels"`
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []Annotation `json:"list"`
	} `json:"annotations"`
}

// Panel is one panel; a collapsed row holds its panels in Panels.
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	GridPos     GridPos     `json:"gridPos"`
	Datasource  *Datasource `json:"datasource"`
	Targets     []Target    `json:"targets"`
	Panels      []Panel     `json:"panels"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Datasource references a data source, here always the ${datasource}
// variable.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Instant      bool        `json:"instant"`
	Datasource   *Datasource `json:"datasource"`
}

// Variable is a template variable. Query is a string or, in newer
// dashboards, an object whose "query" field is the string.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *Datasource     `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// QueryString returns the variable's query text.
func (v Variable) QueryString() (string, error) {
	if len(v.Query) == 0 {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &obj); err != nil {
		return "", fmt.Errorf("variable %s: query: %w", v.Name, err)
	}
	return obj.Query, nil
}

// labelValuesRe matches Grafana's label_values(SELECTOR, LABEL).
var labelValuesRe = regexp.MustCompile(`(?s)^\s*label_values\(\s*(.+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// LabelValues splits a label_values(SELECTOR, LABEL) variable query into the
// series selector and the label whose values the variable lists.
func LabelValues(query string) (selector, label string, err error) {
	m := labelValuesRe.FindStringSubmatch(query)
	if m == nil {
		return "", "", fmt.Errorf("%q is not label_values(SELECTOR, LABEL)", query)
	}
	return m[1], m[2], nil
}

// Annotation is a dashboard annotation; Prometheus ones have an Expr.
type Annotation struct {
	Name       string      `json:"name"`
	Expr       string      `json:"expr"`
	Enable     bool        `json:"enable"`
	BuiltIn    int         `json:"builtIn"`
	Datasource *Datasource `json:"datasource"`
}

// LoadDashboard reads the named dashboard file.
func LoadDashboard(name string) (*Dashboard, error) {
	data, err := fs.ReadFile(files, name)
	if err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("dashboards: %s: %w", name, err)
	}
	return &d, nil
}

// AllPanels returns every panel, rows and the panels of collapsed rows
// included, in order.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Variable returns the template variable named name.
func (d *Dashboard) Variable(name string) (Variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// IsQueryPanel reports whether the panel runs queries (rows and text
// panels do not).
func (p Panel) IsQueryPanel() bool {
	return p.Type != "row" && p.Type != "text"
}

// where names a panel target for messages.
func (p Panel) where(t Target) string {
	return fmt.Sprintf("panel %q target %s", strings.TrimSpace(p.Title), t.RefID)
}
