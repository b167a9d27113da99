// Package flags decides who serves each workflow and changes that decision
// safely.
//
// A Snapshot is an immutable, atomically swapped view of every workflow's
// flag that the proxy consults once per request (Decide), so a flag change
// never flips a request mid-flight. A Refresher reloads it from the
// cutover.FlagStore every proxy.flag_refresh and keeps the last known good
// view while the store is unreachable. A Service validates and writes
// changes (version-checked, gate-checked when promoting past shadow) and
// records each one in the store's append-only history, which is the audit
// log of who moved which workflow where, and why.
package flags
