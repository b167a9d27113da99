package embedded

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOptionsValidate(t *testing.T) {
	ok := func(o Options) Options {
		if o.Path == "" {
			o.Path = "cutover.db"
		}
		return o
	}
	for _, tc := range []struct {
		name  string
		opts  Options
		field string // "" when valid
	}{
		{"defaults", ok(Options{}), ""},
		{"everything set", ok(Options{Durability: DurabilityNormal, BusyTimeout: time.Second, MaxBatch: 10, ReadConns: 2, PollInterval: 50 * time.Millisecond}), ""},
		{"no path", Options{}, "Path"},
		{"path with a query", Options{Path: "x.db?mode=ro"}, "Path"},
		{"unknown durability", ok(Options{Durability: "fast"}), "Durability"},
		{"negative busy timeout", ok(Options{BusyTimeout: -time.Second}), "BusyTimeout"},
		{"negative batch", ok(Options{MaxBatch: -1}), "MaxBatch"},
		{"huge batch", ok(Options{MaxBatch: maxMaxBatch + 1}), "MaxBatch"},
		{"negative read conns", ok(Options{ReadConns: -2}), "ReadConns"},
		{"slow poll", ok(Options{PollInterval: 2 * time.Second}), "PollInterval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "option "+tc.field+":") {
				t.Fatalf("Validate: %v, want an error naming %s", err, tc.field)
			}
			o := tc.opts
			if tc.field != "Path" {
				o.Path = filepath.Join(t.TempDir(), "x.db")
			}
			if _, err := Open(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Open: %v, want the error naming %s", err, tc.field)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	got := Options{Path: "x.db"}.withDefaults()
	want := Options{
		Path: "x.db", Durability: DurabilityFull, BusyTimeout: DefaultBusyTimeout, MaxBatch: DefaultMaxBatch,
		ReadConns: DefaultReadConns, PollInterval: DefaultPollInterval,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}
