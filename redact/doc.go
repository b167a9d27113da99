// Package redact removes secrets from what cutover stores: request and
// response headers (Authorization, Cookie and Set-Cookie always, plus the
// configured ones) and configured JSON paths in bodies, which are replaced
// with Placeholder. The proxy applies it to shadow events and legacy
// outcomes before they leave the process; the pipeline wiring applies it to
// the archived copy of live events, whose queued copy must stay whole.
package redact
