// Package dashboards holds cutover's Grafana dashboards and Prometheus rules
// (README.md says how to install them and what every panel and alert asks
// of the reader). The files are embedded, so tools and tests read exactly
// what ships, and the package lists every PromQL expression in them: the
// test in cmd/cutover runs each one against a real Prometheus that scrapes
// real proxy and worker processes.
package dashboards
