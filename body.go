package cutover

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Body is a request or response body. In JSON it is a string when the bytes
// are valid UTF-8, so archived events and outcomes stay readable, and
// {"base64": "..."} otherwise. Either form round-trips the exact bytes.
type Body []byte

// MarshalJSON implements json.Marshaler.
func (b Body) MarshalJSON() ([]byte, error) {
	if b == nil {
		return []byte("null"), nil
	}
	if utf8.Valid(b) {
		return json.Marshal(string(b))
	}
	return json.Marshal(struct {
		Base64 string `json:"base64"`
	}{base64.StdEncoding.EncodeToString(b)})
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *Body) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*b = nil
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*b = Body(s)
		return nil
	case len(data) > 0 && data[0] == '{':
		var v struct {
			Base64 *string `json:"base64"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		if v.Base64 == nil {
			return errors.New("body: object form needs a \"base64\" field")
		}
		raw, err := base64.StdEncoding.DecodeString(*v.Base64)
		if err != nil {
			return errors.New("body: invalid base64")
		}
		*b = raw
		return nil
	}
	return errors.New("body: want a string or {\"base64\": ...}")
}
