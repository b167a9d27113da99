package main

import (
	"os"
	"testing"
)

// TestMain lets tests run this binary as the cutover command in a child
// process (CUTOVER_TEST_EXEC=1): the crash test kills real worker processes.
func TestMain(m *testing.M) {
	if os.Getenv("CUTOVER_TEST_EXEC") == "1" {
		os.Args = append([]string{"cutover"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
