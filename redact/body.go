package redact

import "github.com/cutover-dev/cutover/jsonpath"

// placeholderJSON is Placeholder as the JSON value that replaces a field.
var placeholderJSON = []byte(`"` + Placeholder + `"`)

// Body returns b with every configured JSON path replaced by Placeholder.
// A body that is not a JSON object or array is returned as it is (there is
// no path in it to redact), and so is a JSON body in which no path matched.
// Everything but the replaced values keeps its exact bytes: key order,
// spacing, escapes and number digits. A key that appears twice is redacted
// both times, whichever one a reader would keep.
func (r *Redactor) Body(b []byte) []byte {
	if len(r.paths) == 0 || !looksLikeJSON(b) {
		return b
	}
	out, _, _ := jsonpath.Redact(b, r.paths, placeholderJSON)
	return out
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
