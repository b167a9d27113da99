package embedded

import (
	"bytes"
	"encoding/json"
	"time"
)

// marshal encodes v as JSON without HTML escaping, so that raw JSON values
// (PathDiff sides) keep their exact bytes.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// fromNanos reads a time stored as Unix nanoseconds (0: the zero time), in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
