package hostdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	tests := []struct {
		path, home string
		refused    string // part of the error, "" when allowed
	}{
		{"/", "", "root of the host"},
		{"/etc", "", "system directory"},
		{"/etc/ssh", "", "inside /etc"},
		{"/usr/local/share", "", "inside /usr"},
		{"/var/lib/docker", "", "inside /var"},
		{"/proc/self", "", "inside /proc"},
		{"/run", "", "system directory"},
		{"/boot", "", "system directory"},
		{"/tmp", "", "whole system shares"},
		{"/var/tmp", "", "whole system shares"},
		{"/home", "", "whole system shares"},
		{"/root", "", "whole system shares"},
		{"/home/alice", "/home/alice", "home directory"},
		{"/srv/data", "/srv/data/me", "home directory"},
		{"/etc/../", "", "root of the host"},
		{"/tmp/out", "", ""},
		{"/var/tmp/out", "", ""},
		{"/home/alice/out", "/home/alice", ""},
		{"/root/out", "/root", ""},
		{"/srv/data", "", ""},
	}
	for _, tt := range tests {
		err := CheckPath("output", tt.path, tt.home)
		switch {
		case tt.refused == "" && err != nil:
			t.Errorf("%s (home %q): refused: %v", tt.path, tt.home, err)
		case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused) || !errors.Is(err, ErrUnsafe)):
			t.Errorf("%s (home %q): want ErrUnsafe with %q, got %v", tt.path, tt.home, tt.refused, err)
		}
	}
}

func TestCheckPathWantsAnAbsolutePath(t *testing.T) {
	if err := CheckPath("output", "relative/dir", ""); err == nil || errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("want a plain error asking for an absolute path, got %v", err)
	}
}

func TestOutput(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	toEtc := filepath.Join(dir, "to-etc")
	toRoot := filepath.Join(dir, "to-root")
	for link, target := range map[string]string{toEtc: "/etc", toRoot: "/"} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}

	if _, _, err := Output("/"); !errors.Is(err, ErrUnsafe) {
		t.Errorf("/: %v", err)
	}
	for _, p := range []string{toEtc, toRoot, filepath.Join(toEtc, "new-dir")} {
		if _, _, err := Output(p); !errors.Is(err, ErrUnsafe) {
			t.Errorf("%s: want ErrUnsafe, got %v", p, err)
		}
	}
	if _, err := os.Stat("/etc/new-dir"); err == nil {
		t.Fatal("a refused output was created in /etc")
	}
	if _, _, err := Output(full); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty: %v", err)
	}
	if got, created, err := Output(empty); err != nil || created || got != empty {
		t.Errorf("empty: %q %v %v", got, created, err)
	}
	fresh := filepath.Join(dir, "a", "b")
	got, created, err := Output(fresh)
	if err != nil || !created || got != fresh {
		t.Fatalf("missing: %q %v %v", got, created, err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("created output: %v %v", st.Mode(), err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(empty, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Output(empty); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Errorf("someone else's: %v", err)
		}
	}
}

func TestWorkspace(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink("/usr", link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/etc", link} {
		if _, err := Workspace(p); !errors.Is(err, ErrUnsafe) {
			t.Errorf("%s: want ErrUnsafe, got %v", p, err)
		}
	}
	t.Setenv("HOME", dir)
	if _, err := Workspace(dir); !errors.Is(err, ErrUnsafe) {
		t.Errorf("home itself: %v", err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Workspace(sub); err != nil || got != sub {
		t.Errorf("below home: %q %v", got, err)
	}
}
