package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A runsc older than the noexec fix, of a version that cannot be read, or
// behind a remote daemon is reported; a fixed one is not.
func TestRunscNoexecGap(t *testing.T) {
	dir := t.TempDir()
	fake := func(name, out string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\nprintf '"+out+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path string
		local      bool
		want       string // "" when no gap is reported
	}{
		{"Debian 12", fake("old", `runsc version 0.0~20221219.0\nspec: 1.0.2-dev\n`), true, "0.0~20221219.0"},
		{"fixed release", fake("new", `runsc version release-20250512.0\nspec: 1.1.0\n`), true, ""},
		{"unreadable version", fake("odd", `runsc version dev\n`), true, "unknown version"},
		{"missing binary", filepath.Join(dir, "none"), true, "unknown version"},
		{"remote daemon", fake("remote", `runsc version release-20250512.0\n`), false, "not on this host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runscNoexecGap(context.Background(), tt.path, tt.local)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) || (got != "" && !strings.HasPrefix(got, "noexec: ")) {
				t.Fatalf("got %q, want a note containing %q", got, tt.want)
			}
		})
	}
}
