package admin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTokens(t *testing.T) {
	tokens, err := ParseTokens([]byte(tokensYAML))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		presented string
		want      Identity
		ok        bool
	}{
		{operatorToken, Identity{Name: "alice", Role: RoleOperator}, true},
		{viewerToken, Identity{Name: "grafana", Role: RoleViewer}, true},
		{operatorToken + "x", Identity{}, false},
		{operatorToken[:len(operatorToken)-1], Identity{}, false},
		{"", Identity{}, false},
	}
	for _, tt := range tests {
		got, ok := tokens.Authenticate(tt.presented)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Authenticate(%q) = %+v, %v; want %+v, %v", tt.presented, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseTokensErrorsNameTheEntry(t *testing.T) {
	const secret = "s3cret-s3cret-s3cret"
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"empty file", ``, `no tokens defined (want tokens: [{name: alice, token: "...", role: operator}])`},
		{"empty list", `tokens: []`, `no tokens defined (want tokens: [{name: alice, token: "...", role: operator}])`},
		{"not a list", `tokens: ` + secret, `line 1: cannot unmarshal !!str a value into a list of tokens`},
		{"unknown key", `{tokens: [{name: a, token: "` + secret + `", role: viewer, scope: all}]}`,
			`line 1: unknown key "scope" in a token (want name, token, role)`},
		{"unknown top-level key", "tokens: []\nusers: []", `line 2: unknown key "users" at the top level (want tokens)`},
		{"missing name", `{tokens: [{token: "` + secret + `", role: viewer}]}`, `tokens[0]: name is required`},
		{"bad name", `{tokens: [{name: "al ice", token: "` + secret + `", role: viewer}]}`,
			`tokens[0] (al ice): name "al ice" must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`},
		{"reserved name", `{tokens: [{name: env, token: "` + secret + `", role: viewer}]}`,
			`tokens[0] (env): name "env" is reserved for the CUTOVER_ADMIN_TOKEN token`},
		{"missing role", `{tokens: [{name: a, token: "` + secret + `"}]}`, `tokens[0] (a): role is required (want viewer or operator)`},
		{"unknown role", `{tokens: [{name: a, token: "` + secret + `", role: admin}]}`,
			`tokens[0] (a): role "admin" is unknown (want viewer or operator)`},
		{"missing token", `{tokens: [{name: a, role: viewer}]}`, `tokens[0] (a): token is required`},
		{"short token", `{tokens: [{name: a, token: "short", role: viewer}]}`, `tokens[0] (a): token is shorter than 16 characters`},
		{"token with a space", `{tokens: [{name: a, token: "s3cret s3cret s3cret", role: viewer}]}`,
			`tokens[0] (a): token may only hold printable ASCII without spaces`},
		{"every bad entry at once", `{tokens: [
			{name: a, token: "` + secret + `", role: viewer},
			{name: a, token: "other-other-other-1", role: viewer},
			{name: b, token: "` + secret + `", role: operator},
			{name: c, token: "x", role: root}]}`,
			"tokens[1] (a): name \"a\" is also used by tokens[0]\n" +
				"tokens[2] (b): token is the same as the token of \"a\"; give each its own\n" +
				"tokens[3] (c): role \"root\" is unknown (want viewer or operator)\n" +
				"tokens[3] (c): token is shorter than 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTokens([]byte(tt.yaml))
			if err == nil {
				t.Fatal("ParseTokens succeeded")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error reveals a token: %v", err)
			}
		})
	}
}

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(file, []byte(tokensYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		env     string
		wantLen int
		wantErr string
	}{
		{name: "none", wantLen: 0},
		{name: "file", path: file, wantLen: 2},
		{name: "env", env: envTokenValue, wantLen: 1},
		{name: "file and env", path: file, env: envTokenValue, wantLen: 3},
		{name: "short env token", env: "short", wantErr: "admin: CUTOVER_ADMIN_TOKEN: token is shorter than 16 characters"},
		{name: "env reuses a file token", path: file, env: viewerToken,
			wantErr: `admin: CUTOVER_ADMIN_TOKEN: the same token is also entry "grafana" of the tokens file; give each its own`},
		{name: "missing file", path: filepath.Join(dir, "nope.yaml"),
			wantErr: "admin: tokens file: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokens, err := LoadTokens(tt.path, tt.env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error\n got %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tokens.Len() != tt.wantLen {
				t.Errorf("Len = %d, want %d", tokens.Len(), tt.wantLen)
			}
			if tt.env != "" {
				if id, ok := tokens.Authenticate(tt.env); !ok || id != (Identity{Name: "env", Role: RoleOperator}) {
					t.Errorf("env token authenticates as %+v, %v; want the operator env", id, ok)
				}
			}
		})
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(`{tokens: [{name: a, role: viewer}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokens(bad, ""); err == nil || err.Error() != "admin: tokens file "+bad+": tokens[0] (a): token is required" {
		t.Errorf("error = %v, want it to name the file and the entry", err)
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte(tokensYAML))
	f.Add([]byte(`tokens: [{name: a, token: "0123456789abcdef", role: viewer}]`))
	f.Add([]byte("tokens:\n  - name: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tokens, err := ParseTokens(data)
		if err != nil {
			return
		}
		if tokens.Len() == 0 {
			t.Fatal("ParseTokens accepted a file without tokens")
		}
		for _, e := range tokens.entries {
			if e.id.Name == "" || (e.id.Role != RoleViewer && e.id.Role != RoleOperator) {
				t.Fatalf("accepted entry %+v", e.id)
			}
		}
	})
}
