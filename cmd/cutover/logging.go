package main

import (
	"io"
	"log/slog"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/telemetry"
)

// newLogger builds the structured logger of a long-running command; lines
// logged with a span in their context carry its trace id.
func newLogger(w io.Writer, c cutover.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated with the config
	return telemetry.NewLogger(w, level, c.Format)
}
