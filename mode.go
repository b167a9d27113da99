package cutover

import "fmt"

// Mode says who serves a workflow. It is the value of a workflow's flag.
type Mode string

const (
	// ModeOff: legacy answers and nothing is mirrored.
	ModeOff Mode = "off"
	// ModeShadow: legacy answers; every request is mirrored as a shadow event.
	ModeShadow Mode = "shadow"
	// ModeCanary: the async pipeline answers a sticky percentage of requests.
	ModeCanary Mode = "canary"
	// ModeCutover: the async pipeline answers every request.
	ModeCutover Mode = "cutover"
)

// Modes lists every valid Mode, in promotion order.
func Modes() []Mode { return []Mode{ModeOff, ModeShadow, ModeCanary, ModeCutover} }

// ParseMode returns the Mode named s or an error that lists the valid names.
func ParseMode(s string) (Mode, error) {
	m := Mode(s)
	if !m.Valid() {
		return "", fmt.Errorf("unknown mode %q (want off, shadow, canary or cutover)", s)
	}
	return m, nil
}

// Valid reports whether m is one of the four modes.
func (m Mode) Valid() bool {
	switch m {
	case ModeOff, ModeShadow, ModeCanary, ModeCutover:
		return true
	}
	return false
}

// PastShadow reports whether m lets the async pipeline answer clients, which
// is what the readiness gate protects.
func (m Mode) PastShadow() bool { return m == ModeCanary || m == ModeCutover }

// EventMode says whether an event's effects are real.
type EventMode string

const (
	// EventShadow events must not perform real side effects; the legacy
	// service answered the client.
	EventShadow EventMode = "shadow"
	// EventLive events answer the client and perform real side effects.
	EventLive EventMode = "live"
)

// Valid reports whether m is shadow or live.
func (m EventMode) Valid() bool { return m == EventShadow || m == EventLive }
