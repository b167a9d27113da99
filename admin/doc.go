// Package admin serves the admin listener (admin.listen): the flag API that
// the CLI's remote mode, scripts and later the web UI use, plus whatever the
// wiring code mounts beside it (/metrics, report pages).
//
// Every route but /healthz needs a bearer token. Tokens come from the
// admin.tokens_file YAML file and the CUTOVER_ADMIN_TOKEN environment
// variable and carry a role: viewer reads, operator also changes flags. With
// no token configured every request is refused: the API is secure until
// someone deliberately opens it. A token's name, never its value, is what
// the flag history records as who made a change.
package admin
