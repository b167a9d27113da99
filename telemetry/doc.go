// Package telemetry holds what every cutover process shares for logs and
// traces: a slog handler that stamps each line with the trace and span id
// found in its context, a tracer provider that mints W3C trace ids (no
// exporter: the ids tie logs together across the proxy, the worker and the
// comparator), and helpers that carry trace context in an event.
package telemetry
