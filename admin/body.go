package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBody bounds request bodies; flag changes are a few hundred bytes.
const maxBody = 64 << 10

// decodeBody reads one JSON object into v, refusing unknown fields, wrong
// types and trailing data with a message that names the field. An empty
// body is allowed when optional.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool, fields string) (int, *errorBody) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() || dec.Decode(new(json.RawMessage)) != io.EOF {
			return http.StatusBadRequest, &errorBody{Error: "body must be one JSON object " + fields}
		}
		return 0, nil
	}
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF) && optional:
		return 0, nil
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, &errorBody{Error: "body is required: a JSON object " + fields}
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, &errorBody{Error: fmt.Sprintf("body is larger than %d bytes", maxBody)}
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, &errorBody{Error: "body is not valid JSON: " + err.Error()}
	case errors.As(err, &typ) && typ.Field != "":
		return http.StatusBadRequest, &errorBody{Error: fmt.Sprintf("%s must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value), Field: typ.Field}
	case errors.As(err, &typ):
		return http.StatusBadRequest, &errorBody{Error: "body must be a JSON object " + fields}
	}
	// encoding/json reports unknown fields only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return http.StatusBadRequest, &errorBody{Error: fmt.Sprintf("unknown field %q (want %s)", name, fields), Field: name}
	}
	return http.StatusBadRequest, &errorBody{Error: "body: " + err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "float64", "int", "int64":
		return "number"
	case "bool":
		return "boolean"
	}
	return goKind
}
