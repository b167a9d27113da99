package comparator

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var fixedNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

// golden compares got with the file at path, or rewrites the file under
// -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// A corpus case is a directory under testdata/compare holding legacy.txt
// and async.txt (one outcome each, see readOutcome), an optional rules.yaml
// (a compare: section), the expected verdict, written by hand, and the
// golden comparison. A case with a file named "generated" has its outcomes
// produced by orderPair; -update writes them out.
type corpusCase struct {
	rules   *Rules
	pair    cutover.OutcomePair
	verdict cutover.Verdict
}

func loadCase(t *testing.T, dir string) corpusCase {
	t.Helper()
	var cfg cutover.CompareConfig
	if data, err := os.ReadFile(filepath.Join(dir, "rules.yaml")); err == nil {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			t.Fatalf("rules.yaml: %v", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "generated")); err == nil {
		generateCase(t, dir)
		cfg = orderRules
	}
	rules, err := Compile(cfg, WithClock(fixedClock))
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	v, err := os.ReadFile(filepath.Join(dir, "verdict"))
	if err != nil {
		t.Fatal(err)
	}
	return corpusCase{
		rules: rules,
		pair: cutover.OutcomePair{
			EventID: filepath.Base(dir), Workflow: "corpus",
			Legacy: readOutcome(t, filepath.Join(dir, "legacy.txt")),
			Async:  readOutcome(t, filepath.Join(dir, "async.txt")),
		},
		verdict: cutover.Verdict(strings.TrimSpace(string(v))),
	}
}

// readOutcome reads an outcome written like an HTTP response: a first line
// "STATUS [LATENCY]" (or "error: TEXT", "missing", "skipped: WHY", "absent"
// for no outcome at all), header lines, an empty line, and the body: the
// rest of the file, byte for byte.
func readOutcome(t *testing.T, path string) *cutover.Outcome {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := bytes.Cut(data, []byte("\n"))
	line := string(first)
	switch {
	case line == "absent":
		return nil
	case line == "missing":
		return &cutover.Outcome{Missing: true}
	case strings.HasPrefix(line, "error: "):
		return &cutover.Outcome{Error: strings.TrimPrefix(line, "error: ")}
	case strings.HasPrefix(line, "skipped: "):
		return &cutover.Outcome{Skipped: strings.TrimPrefix(line, "skipped: ")}
	}
	o := &cutover.Outcome{Header: http.Header{}}
	status, latency, _ := strings.Cut(line, " ")
	if o.Status, err = strconv.Atoi(status); err != nil {
		t.Fatalf("%s: status line %q", path, line)
	}
	if latency != "" {
		d, err := time.ParseDuration(latency)
		if err != nil {
			t.Fatalf("%s: latency %q", path, latency)
		}
		o.Latency = cutover.Duration(d)
	}
	for {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(h) == 0 {
			break
		}
		k, v, ok := strings.Cut(string(h), ":")
		if !ok {
			t.Fatalf("%s: header line %q", path, h)
		}
		o.Header.Add(k, strings.TrimSpace(v))
	}
	o.Body = rest
	return o
}

func generateCase(t *testing.T, dir string) {
	t.Helper()
	spec, err := os.ReadFile(filepath.Join(dir, "generated"))
	if err != nil {
		t.Fatal(err)
	}
	var items int
	var seed uint64
	if _, err := fmt.Sscanf(string(spec), "orders %d %d", &items, &seed); err != nil {
		t.Fatalf("generated: want \"orders ITEMS SEED\": %v", err)
	}
	legacy, async := orderPair(items, seed)
	for name, body := range map[string][]byte{"legacy.txt": legacy, "async.txt": async} {
		want := append([]byte("200\nContent-Type: application/json\n\n"), body...)
		path := filepath.Join(dir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s is not what the generator makes (run with -update)", path)
		}
	}
}

func TestCorpus(t *testing.T) {
	dirs, err := filepath.Glob("testdata/compare/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 30 {
		t.Fatalf("corpus has %d cases, want at least 30", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := loadCase(t, dir)
			got := c.rules.Compare(c.pair)
			if got.Verdict != c.verdict {
				t.Errorf("verdict = %s (%s), want %s", got.Verdict, got.Reason, c.verdict)
			}
			if (got.Verdict == cutover.VerdictMatch) != (got.Reason == "") {
				t.Errorf("reason %q with verdict %s: want a reason exactly for non-match verdicts", got.Reason, got.Verdict)
			}
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "comparison.golden.json"), append(out, '\n'))

			// What the store keeps reads back the same.
			var back cutover.Comparison
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(canonicalDiffs(got), canonicalDiffs(&back)); diff != "" {
				t.Errorf("JSON round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// canonicalDiffs re-canonicalizes diff values, which indentation changes.
func canonicalDiffs(c *cutover.Comparison) []cutover.PathDiff {
	out := make([]cutover.PathDiff, len(c.Diffs))
	for i, d := range c.Diffs {
		out[i] = cutover.PathDiff{Path: d.Path, Legacy: canonOrNil(d.Legacy), Async: canonOrNil(d.Async)}
	}
	return out
}

func canonOrNil(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	c, ok := Canonicalize(b)
	if !ok {
		panic("diff value is not JSON: " + string(b))
	}
	return c
}
