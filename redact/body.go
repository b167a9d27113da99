package redact

import (
	"bytes"
	"encoding/json"
	"io"
)

// Body returns b with every configured JSON path replaced by Placeholder.
// A body that is not a JSON object or array is returned as it is (there is
// no path in it to redact), and so is a JSON body in which no path matched,
// so that untouched bodies keep their exact bytes. A rewritten body is
// re-encoded: key order and spacing change, numbers keep their digits.
func (r *Redactor) Body(b []byte) []byte {
	if len(r.paths) == 0 || !looksLikeJSON(b) {
		return b
	}
	doc, ok := decode(b)
	if !ok {
		return b
	}
	n := 0
	for _, p := range r.paths {
		n += p.Replace(doc, Placeholder)
	}
	if n == 0 {
		return b
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep <, > and & as the service wrote them
	if err := enc.Encode(doc); err != nil {
		// Unreachable for a document json just decoded; never return
		// the unredacted bytes.
		return []byte(`"` + Placeholder + `"`)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// looksLikeJSON cheaply rules out bodies that cannot hold a path: only an
// object or array has fields or elements to redact.
func looksLikeJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// decode parses exactly one JSON value, keeping numbers as json.Number so
// that re-encoding does not round them.
func decode(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data: not one JSON document
	}
	return doc, true
}
