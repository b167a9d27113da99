package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvToken is the environment variable holding an operator token named
// EnvTokenName, for setups that keep secrets out of files.
const (
	EnvToken     = "CUTOVER_ADMIN_TOKEN"
	EnvTokenName = "env"
)

// MinTokenLength keeps guessable tokens out: 16 characters is about 96 bits
// from a random base64 source (e.g. `openssl rand -base64 24`).
const MinTokenLength = 16

var tokenNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Identity is who a request authenticated as.
type Identity struct {
	Name string // recorded as `by` in the flag history
	Role Role
}

// Tokens is a set of bearer tokens. It keeps only SHA-256 digests of the
// token values, so a memory dump or a stray %v does not reveal them.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	id  Identity
	sum [sha256.Size]byte
}

// tokenFile is the tokens_file format:
//
//	tokens:
//	  - {name: alice, token: "...", role: operator}
//	  - {name: grafana, token: "...", role: viewer}
type tokenFile struct {
	Tokens []tokenFileEntry `yaml:"tokens"`
}

type tokenFileEntry struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	Role  string `yaml:"role"`
}

var (
	yamlFieldRe = regexp.MustCompile(`field (\S+) not found in type admin\.(\w+)`)
	yamlValueRe = regexp.MustCompile("`[^`]*`")
)

// yamlError rewrites yaml.v3's Go-typed messages in the file's terms and
// drops quoted values, which could be a token.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "unmarshal errors:\n"); ok {
		lines := strings.Split(rest, "\n")
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		msg = strings.Join(lines, "; ")
	}
	msg = yamlFieldRe.ReplaceAllStringFunc(msg, func(m string) string {
		sub := yamlFieldRe.FindStringSubmatch(m)
		if sub[2] == "tokenFileEntry" {
			return fmt.Sprintf("unknown key %q in a token (want name, token, role)", sub[1])
		}
		return fmt.Sprintf("unknown key %q at the top level (want tokens)", sub[1])
	})
	msg = yamlValueRe.ReplaceAllString(msg, "a value")
	msg = strings.NewReplacer("[]admin.tokenFileEntry", "a list of tokens", "admin.tokenFileEntry", "a token", "admin.tokenFile", "a map").Replace(msg)
	return errors.New(msg)
}

// LoadTokens reads the tokens file at path (none if path is empty) and adds
// envToken (the value of CUTOVER_ADMIN_TOKEN; none if empty) as an operator
// named "env". Zero tokens is not an error: the server then refuses every
// request and says how to configure one.
func LoadTokens(path, envToken string) (*Tokens, error) {
	t := &Tokens{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("admin: tokens file: %w", err)
		}
		if t, err = ParseTokens(data); err != nil {
			return nil, fmt.Errorf("admin: tokens file %s: %w", path, err)
		}
	}
	if envToken != "" {
		if err := checkTokenValue(envToken); err != nil {
			return nil, fmt.Errorf("admin: %s: %w", EnvToken, err)
		}
		e := tokenEntry{id: Identity{Name: EnvTokenName, Role: RoleOperator}, sum: sha256.Sum256([]byte(envToken))}
		if other, ok := t.bySum(e.sum); ok {
			return nil, fmt.Errorf("admin: %s: the same token is also entry %q of the tokens file; give each its own", EnvToken, other.Name)
		}
		t.entries = append(t.entries, e)
	}
	return t, nil
}

// ParseTokens reads a tokens file. Every bad entry is reported, each named
// by its index and name; token values never appear in errors.
func ParseTokens(data []byte) (*Tokens, error) {
	var f tokenFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	if len(f.Tokens) == 0 {
		return nil, errors.New("no tokens defined (want tokens: [{name: alice, token: \"...\", role: operator}])")
	}
	t := &Tokens{}
	var errs []error
	names := map[string]int{}
	for i, e := range f.Tokens {
		entry := fmt.Sprintf("tokens[%d]", i)
		if e.Name != "" {
			entry += fmt.Sprintf(" (%s)", e.Name)
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", entry, fmt.Sprintf(format, args...)))
		}
		switch j, dup := names[e.Name]; {
		case e.Name == "":
			bad("name is required")
		case !tokenNameRe.MatchString(e.Name):
			bad("name %q must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", e.Name)
		case e.Name == EnvTokenName:
			bad("name %q is reserved for the %s token", e.Name, EnvToken)
		case dup:
			bad("name %q is also used by tokens[%d]", e.Name, j)
		default:
			names[e.Name] = i
		}
		role, err := parseTokenRole(e.Role)
		if err != nil {
			bad("%s", err.Error())
		}
		if err := checkTokenValue(e.Token); err != nil {
			bad("%s", err.Error())
			continue
		}
		sum := sha256.Sum256([]byte(e.Token))
		if other, ok := t.bySum(sum); ok {
			bad("token is the same as the token of %q; give each its own", other.Name)
			continue
		}
		t.entries = append(t.entries, tokenEntry{id: Identity{Name: e.Name, Role: role}, sum: sum})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// checkTokenValue refuses tokens that are missing, short, or could not be
// sent in an Authorization header as they are.
func checkTokenValue(tok string) error {
	if tok == "" {
		return errors.New("token is required")
	}
	if len(tok) < MinTokenLength {
		return fmt.Errorf("token is shorter than %d characters", MinTokenLength)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return errors.New("token may only hold printable ASCII without spaces")
		}
	}
	return nil
}

func (t *Tokens) bySum(sum [sha256.Size]byte) (Identity, bool) {
	for _, e := range t.entries {
		if e.sum == sum {
			return e.id, true
		}
	}
	return Identity{}, false
}

// Len is the number of tokens; 0 locks the API.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// Authenticate returns the identity of presented. It compares digests in
// constant time and always checks every entry, so neither the length nor
// the position of a match shows in the timing.
func (t *Tokens) Authenticate(presented string) (Identity, bool) {
	if t == nil || presented == "" {
		return Identity{}, false
	}
	sum := sha256.Sum256([]byte(presented))
	var (
		id    Identity
		found int
	)
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			id, found = e.id, 1
		}
	}
	return id, found == 1
}
