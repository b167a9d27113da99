package dashboards

import (
	"embed"
	"io/fs"
	"path"
	"sort"
)

// RulesFile is the name of the Prometheus rules file.
const RulesFile = "alerts.yml"

//go:embed *.json alerts.yml
var files embed.FS

// FS returns the dashboards (*.json) and the rules file, as shipped.
func FS() fs.FS { return files }

// DashboardFiles lists the dashboard file names, sorted.
func DashboardFiles() []string {
	entries, _ := fs.ReadDir(files, ".") // embedded: cannot fail
	var names []string
	for _, e := range entries {
		if path.Ext(e.Name()) == ".json" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}
