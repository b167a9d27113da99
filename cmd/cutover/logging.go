package main

import (
	"io"
	"log/slog"

	"github.com/cutover-dev/cutover"
)

// newLogger builds the structured logger of a long-running command.
func newLogger(w io.Writer, c cutover.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated with the config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
