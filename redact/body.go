package redact

import "github.com/cutover-dev/cutover/jsonpath"

// placeholderJSON is Placeholder as the JSON value that replaces a field,
// or a whole body that is withheld.
var placeholderJSON = []byte(`"` + Placeholder + `"`)

// Body returns b with every configured JSON path replaced by Placeholder;
// see Check.
func (r *Redactor) Body(b []byte) []byte {
	out, _ := r.Check(b)
	return out
}

// Check returns b with every configured JSON path replaced by Placeholder,
// and false when it had to withhold the whole body instead.
//
// A body that is not a JSON object or array is returned as it is (there is
// no path in it to redact), and so is a JSON body in which no path matched.
// Everything but the replaced values keeps its exact bytes: key order,
// spacing, escapes and number digits. A key that appears twice is redacted
// both times, whichever one a reader would keep. A body that starts like a
// JSON object or array but does not parse (cut short, malformed, several
// documents) cannot be vouched for: with JSON paths configured it is
// replaced whole by Placeholder as a JSON string, and ok is false.
func (r *Redactor) Check(b []byte) (out []byte, ok bool) {
	if len(r.paths) == 0 || !looksLikeJSON(b) {
		return b, true
	}
	out, _, valid := jsonpath.Redact(b, r.paths, placeholderJSON)
	if !valid {
		return placeholderJSON, false
	}
	return out, true
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
