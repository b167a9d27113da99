package aws

import (
	"bytes"
	"encoding/json"

	"github.com/cutover-dev/cutover"
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

// encodeOutcome is how an outcome is stored: its JSON (cutover.EncodeOutcome,
// the fast encoder), times in UTC.
func encodeOutcome(o *cutover.Outcome) ([]byte, error) { return cutover.EncodeOutcome(normOutcome(o)) }

// normOutcome returns o with its time in UTC, so that what is read back
// equals what was written.
func normOutcome(o *cutover.Outcome) *cutover.Outcome {
	c := *o
	if !c.At.IsZero() {
		c.At = c.At.UTC()
	}
	return &c
}
