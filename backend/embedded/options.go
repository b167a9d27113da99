package embedded

import (
	"fmt"
	"strings"
	"time"
)

// Durability levels.
const (
	// DurabilityFull fsyncs the WAL at every group commit: a returned write
	// survives power loss.
	DurabilityFull = "full"
	// DurabilityNormal syncs only at checkpoints: a returned write survives
	// a process crash, not power loss.
	DurabilityNormal = "normal"
)

// Options configure Open. Zero fields take the defaults below.
type Options struct {
	// Path is the SQLite file; it is created if missing. Required.
	Path string
	// Durability is DurabilityFull (default) or DurabilityNormal.
	Durability string
	// BusyTimeout is how long a write waits for another process holding the
	// write lock before it retries; default 5s.
	BusyTimeout time.Duration
	// MaxBatch bounds the operations one group commit runs; default 1000.
	MaxBatch int
	// ReadConns is the size of the read-only connection pool; default 4.
	ReadConns int
	// PollInterval is how often a long-polling Receive looks for messages
	// sent by other processes; default 25ms.
	PollInterval time.Duration
}

// Defaults.
const (
	DefaultBusyTimeout  = 5 * time.Second
	DefaultMaxBatch     = 1000
	DefaultReadConns    = 4
	DefaultPollInterval = 25 * time.Millisecond
	maxMaxBatch         = 100000
)

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Durability == "" {
		o.Durability = DurabilityFull
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.ReadConns == 0 {
		o.ReadConns = DefaultReadConns
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	return o
}

// Validate reports the first bad field by name. Zero fields are valid: they
// take their defaults.
func (o Options) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("embedded: option %s: %s", field, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Path == "":
		return bad("Path", "is empty")
	case strings.ContainsAny(o.Path, "?\x00"):
		return bad("Path", "%q must not contain '?' or NUL", o.Path)
	case o.Durability != "" && o.Durability != DurabilityFull && o.Durability != DurabilityNormal:
		return bad("Durability", "%q is unknown (want %s or %s)", o.Durability, DurabilityFull, DurabilityNormal)
	case o.BusyTimeout < 0:
		return bad("BusyTimeout", "%v is negative", o.BusyTimeout)
	case o.MaxBatch < 0 || o.MaxBatch > maxMaxBatch:
		return bad("MaxBatch", "%d is out of range (want 1 to %d)", o.MaxBatch, maxMaxBatch)
	case o.ReadConns < 0:
		return bad("ReadConns", "%d is negative", o.ReadConns)
	case o.PollInterval < 0 || o.PollInterval > time.Second:
		return bad("PollInterval", "%v is out of range (want up to 1s)", o.PollInterval)
	}
	return nil
}
