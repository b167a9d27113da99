package proxy

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
)

type decodeResult int

const (
	decodeOK decodeResult = iota
	decodeTooLarge
	decodeUnsupported
)

// decodeBody undoes a Content-Encoding so that the comparator and the
// redactor see the body itself; at most limit decoded bytes are produced.
func decodeBody(encoding string, b []byte, limit int64) ([]byte, decodeResult) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return b, decodeOK
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, decodeUnsupported
		}
		out, err := io.ReadAll(io.LimitReader(zr, limit+1))
		if err != nil {
			return nil, decodeUnsupported
		}
		if int64(len(out)) > limit {
			return nil, decodeTooLarge
		}
		return out, decodeOK
	}
	return nil, decodeUnsupported
}
