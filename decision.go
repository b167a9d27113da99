package cutover

// Decision is how the proxy routes one request, decided once when it arrives
// from the flag snapshot: a flag change never flips a request mid-flight.
type Decision struct {
	Mode    Mode    // the workflow's mode when the request arrived
	Percent float64 // canary share at that moment
	// Async is true when the async pipeline answers (the canary slice, or
	// cutover); false when legacy answers.
	Async bool
	// Mirror is true when a shadow event is published besides the legacy
	// call (shadow mode, and the legacy slice of canary).
	Mirror  bool
	Version int64 // flag version the decision used
}
