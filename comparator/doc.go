// Package comparator decides whether the async pipeline answered an event the
// way the legacy service did.
//
// Compile turns a workflow's compare rules into Rules; Rules.Compare reads an
// outcome pair and returns a cutover.Comparison with a verdict and the
// differing paths. Bodies that both parse as JSON are compared structurally
// after canonicalization (object key order, number spelling and string
// escapes do not matter); anything else is compared byte for byte.
//
// Service records each comparison exactly once, however often outcomes are
// delivered, and its sweeper fills in sides that never arrived so that every
// pair ends with a verdict.
//
// The hot path does not use reflection: a small validating JSON parser builds
// a tree with sorted object members and the diff walks two trees at once.
// go-cmp serves as the independent oracle the tests and fuzzers check the
// diff against (see oracle_test.go and the benchmarks for why it is not used
// on the hot path).
package comparator
