// Package cutover holds the shared vocabulary of the cutover toolkit: the
// immutable Event envelope that the proxy publishes, the Outcome each side
// produces, the workflow Mode a flag selects, the Verdict the comparator
// reaches, the configuration, and the small storage interfaces that every
// backend (embedded SQLite, AWS) implements.
//
// Packages that do the work (proxy, pipeline, comparator, flags) import this
// package and the standard library, not each other; cmd/cutover wires them.
package cutover
