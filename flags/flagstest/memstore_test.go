package flagstest

import (
	"context"
	"errors"
	"testing"

	cutover "github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

func TestStoreVersionChecks(t *testing.T) {
	ctx := context.Background()
	s := New()
	flag := func(v int64, m cutover.Mode) cutover.Flag { return cutover.Flag{Workflow: "w", Mode: m, Version: v} }
	change := func(v int64) cutover.FlagChange { return cutover.FlagChange{Workflow: "w", Version: v} }
	if _, err := s.Flag(ctx, "w"); !errors.Is(err, cutover.ErrNotFound) {
		t.Fatalf("Flag of nothing: err = %v, want ErrNotFound", err)
	}
	tests := []struct {
		name    string
		f       cutover.Flag
		ch      cutover.FlagChange
		wantErr error // nil, ErrVersionConflict, or errAny
	}{
		{"first write is version 1", flag(1, cutover.ModeShadow), change(1), nil},
		{"version 1 again conflicts", flag(1, cutover.ModeCutover), change(1), cutover.ErrVersionConflict},
		{"skipping a version conflicts", flag(3, cutover.ModeCutover), change(3), cutover.ErrVersionConflict},
		{"next version", flag(2, cutover.ModeCutover), change(2), nil},
		{"invalid flag", flag(3, "bogus"), change(3), errAny},
		{"change for another version", flag(3, cutover.ModeOff), change(4), errAny},
	}
	for _, tt := range tests {
		err := s.SetFlag(ctx, tt.f, tt.ch)
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr == errAny && err == nil:
			t.Errorf("%s: succeeded", tt.name)
		case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	got, err := s.Flag(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(flag(2, cutover.ModeCutover), got); diff != "" {
		t.Errorf("stored flag (-want +got):\n%s", diff)
	}
	h, err := s.FlagHistory(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]cutover.FlagChange{change(1), change(2)}, h); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if s.Writes() != 2 {
		t.Errorf("Writes = %d, want 2", s.Writes())
	}
}

var errAny = errors.New("any error")

func TestStoreFail(t *testing.T) {
	ctx := context.Background()
	s := New()
	s.Fail(cutover.ErrUnavailable)
	_, err1 := s.Flags(ctx)
	_, err2 := s.Flag(ctx, "w")
	err3 := s.SetFlag(ctx, cutover.Flag{Workflow: "w", Mode: cutover.ModeOff, Version: 1}, cutover.FlagChange{Workflow: "w", Version: 1})
	_, err4 := s.FlagHistory(ctx, "w")
	for i, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, cutover.ErrUnavailable) {
			t.Errorf("call %d: err = %v, want ErrUnavailable", i, err)
		}
	}
	s.Fail(nil)
	if fs, err := s.Flags(ctx); err != nil || len(fs) != 0 {
		t.Errorf("after Fail(nil): %v, %v; want no flags and no error", fs, err)
	}
}
