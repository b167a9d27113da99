package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

type identityKey struct{}

// IdentityFrom returns who the request authenticated as; false on public
// routes.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

const noTokensMsg = "the admin API is locked because no token is configured: set admin.tokens_file in the config " +
	"(tokens: [{name: alice, token: \"...\", role: operator}]) or the " + EnvToken + " environment variable, then restart"

// require lets a request through when its bearer token's role allows need.
// Failures are logged with the caller's address, never the token.
func (s *Server) require(need Role, next http.Handler) http.Handler {
	if need == RolePublic {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.tokens.Len() == 0 {
			unauthorized(w, "", noTokensMsg)
			return
		}
		tok, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			unauthorized(w, "", "missing bearer token: send the header Authorization: Bearer TOKEN")
			return
		}
		id, ok := s.tokens.Authenticate(tok)
		if !ok {
			s.log.Warn("admin: rejected an invalid token", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			unauthorized(w, "invalid_token", "the bearer token is not valid")
			return
		}
		if !id.Role.allows(need) {
			s.log.Warn("admin: refused a request above the token's role", "token", id.Name, "role", id.Role, "method", r.Method, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, errorBody{Error: fmt.Sprintf("token %q has role %s; %s %s needs %s", id.Name, id.Role, r.Method, r.URL.Path, need)})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

func unauthorized(w http.ResponseWriter, code, msg string) {
	challenge := `Bearer realm="cutover"`
	if code != "" {
		challenge += `, error="` + code + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, http.StatusUnauthorized, errorBody{Error: msg})
}

// bearer extracts the token of an "Authorization: Bearer TOKEN" header; the
// scheme is case-insensitive (RFC 9110).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
