package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAuth(t *testing.T) {
	f := newFixture(t)
	const shadowBody = `{"mode": "shadow", "reason": "r"}`
	tests := []struct {
		name, method, path, token, body string
		want                            int
		challenge                       string // WWW-Authenticate on 401
		wantErr                         string
	}{
		{name: "no token", method: "GET", path: "/api/flags", want: 401, challenge: `Bearer realm="cutover"`,
			wantErr: "missing bearer token: send the header Authorization: Bearer TOKEN"},
		{name: "bad token", method: "GET", path: "/api/flags", token: "not-a-real-token-at-all", want: 401,
			challenge: `Bearer realm="cutover", error="invalid_token"`, wantErr: "the bearer token is not valid"},
		{name: "viewer reads", method: "GET", path: "/api/flags", token: viewerToken, want: 200},
		{name: "viewer reads a flag", method: "GET", path: "/api/flags/create-order", token: viewerToken, want: 200},
		{name: "viewer reads history", method: "GET", path: "/api/flags/create-order/history", token: viewerToken, want: 200},
		{name: "viewer cannot set", method: "PUT", path: "/api/flags/create-order", token: viewerToken, body: shadowBody, want: 403,
			wantErr: `token "grafana" has role viewer; PUT /api/flags/create-order needs operator`},
		{name: "viewer cannot roll back", method: "POST", path: "/api/flags/create-order/rollback", token: viewerToken, want: 403,
			wantErr: `token "grafana" has role viewer; POST /api/flags/create-order/rollback needs operator`},
		{name: "viewer cannot roll back all", method: "POST", path: "/api/flags/rollback", token: viewerToken, want: 403,
			wantErr: `token "grafana" has role viewer; POST /api/flags/rollback needs operator`},
		{name: "operator sets", method: "PUT", path: "/api/flags/create-order", token: operatorToken, body: shadowBody, want: 200},
		{name: "operator reads", method: "GET", path: "/api/flags", token: operatorToken, want: 200},
		{name: "healthz needs no token", method: "GET", path: "/healthz", want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, f.srv, tt.method, tt.path, tt.token, tt.body)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.want, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if tt.wantErr != "" {
				var body errorBody
				r.decode(t, &body)
				if diff := cmp.Diff(errorBody{Error: tt.wantErr}, body); diff != "" {
					t.Errorf("error body (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestNoTokenLocksTheAPI(t *testing.T) {
	for _, tokens := range []*Tokens{nil, {}} {
		f := newFixtureWith(t, tokens)
		for _, tok := range []string{"", operatorToken} {
			r := do(t, f.srv, "GET", "/api/flags", tok, "")
			if r.status != http.StatusUnauthorized {
				t.Fatalf("token %q: status %d, want 401", tok, r.status)
			}
			var body errorBody
			r.decode(t, &body)
			if body.Error != noTokensMsg {
				t.Errorf("error = %q, want it to say how to configure a token", body.Error)
			}
		}
		if r := do(t, f.srv, "GET", "/healthz", "", ""); r.status != http.StatusOK {
			t.Errorf("/healthz = %d, want 200 without tokens", r.status)
		}
	}
}

func TestBearer(t *testing.T) {
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc ", "abc", true},
		{"Basic YWxpY2U6", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"", "", false},
		{"abc", "", false},
	}
	for _, tt := range tests {
		got, ok := bearer(tt.header)
		if got != tt.want || ok != tt.ok {
			t.Errorf("bearer(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzBearer(f *testing.F) {
	f.Add("Bearer abc")
	f.Add("bearer\tabc def")
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := bearer(h)
		if !ok {
			if tok != "" {
				t.Fatalf("bearer(%q) = %q, false", h, tok)
			}
			return
		}
		if tok == "" || tok != strings.TrimSpace(tok) {
			t.Fatalf("bearer(%q) = %q: empty or padded", h, tok)
		}
		if again, ok := bearer("Bearer " + tok); !ok || again != tok {
			t.Fatalf("bearer(Bearer %s) = %q, %v; want it back", tok, again, ok)
		}
	})
}
