package flags

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// Buckets is the number of buckets keys hash into: one bucket is 0.01% of
// traffic, the finest step a canary percent can take.
const Buckets = 10000

// Bucket places key in one of Buckets buckets, in [0, Buckets).
//
// The mapping is part of cutover's contract and must never change, because
// every proxy instance (of any version, on any machine) has to send the same
// key to the same side: it is the first 8 bytes of SHA-256(salt || 0x00 ||
// key), read as a big-endian uint64, modulo 10000. The 0x00 separator keeps
// ("ab", "c") and ("a", "bc") apart. The salt (a workflow's `salt`, by default
// its name) makes different workflows pick independent slices.
func Bucket(salt, key string) int {
	// A stack buffer keeps the common case (short salt and key) free of
	// allocations on the proxy's hot path.
	var buf [128]byte
	b := append(buf[:0], salt...)
	b = append(b, 0)
	b = append(b, key...)
	sum := sha256.Sum256(b)
	return int(binary.BigEndian.Uint64(sum[:8]) % Buckets)
}

// Threshold is the number of buckets a canary percent covers:
// round(percent*100), clamped to [0, Buckets]. A key is in the canary slice
// iff its bucket is below the threshold, so raising the percent only adds
// keys and lowering it only removes them.
func Threshold(percent float64) int {
	if math.IsNaN(percent) {
		return 0
	}
	return int(math.Round(min(max(percent, 0), 100) * 100))
}

// InSlice reports whether key falls in the canary slice of percent.
func InSlice(salt, key string, percent float64) bool {
	return Bucket(salt, key) < Threshold(percent)
}
