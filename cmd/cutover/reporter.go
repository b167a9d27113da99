package main

import (
	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/comparator/report"
)

// newReporter reads reports and readiness gates from the backend; it is
// also the gate the flag service checks promotions with.
func newReporter(cfg *cutover.Config, stores cutover.Stores) *report.Reporter {
	return report.New(cfg, report.Sources{
		Comparisons: stores.Comparisons,
		Flags:       stores.Flags,
		DLQ:         report.QueueDLQ{Queue: stores.Queue, Config: cfg},
	})
}
