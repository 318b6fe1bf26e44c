package seccomp

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The committed profile must be what the table generates: run
// `make profiles` after changing default.go.
func TestCommittedDefaultIsCurrent(t *testing.T) {
	want, err := Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "..", "profiles", "default.json"))
	if err != nil {
		t.Fatalf("read committed profile: %v (run `make profiles`)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("profiles/default.json is stale: run `make profiles` and commit the result")
	}
}

func TestDefaultLeavesOutDangerousSyscalls(t *testing.T) {
	allowedNames := map[string]bool{}
	for _, s := range Default().Syscalls {
		if s.Action == ActAllow && len(s.Args) == 0 {
			for _, n := range s.Names {
				if allowedNames[n] {
					t.Errorf("%s is listed twice", n)
				}
				allowedNames[n] = true
			}
		}
	}
	for _, n := range []string{
		"mount", "umount2", "unshare", "setns", "ptrace", "bpf", "perf_event_open", "keyctl",
		"add_key", "init_module", "finit_module", "kexec_load", "reboot", "io_uring_setup",
		"userfaultfd", "memfd_create", "chroot", "pivot_root", "setuid", "setgid", "socket",
		"clone", "clone3", "personality", "process_vm_readv", "open_by_handle_at", "mknod",
	} {
		if allowedNames[n] {
			t.Errorf("%s must not be allowed unconditionally", n)
		}
	}
	// clone3 must answer ENOSYS, so that libc falls back to clone (whose
	// flags the filter checks), on runc and gVisor alike: a trace rule
	// with no tracer does; an errno rule gives EPERM on gVisor 2022-12.
	for _, s := range Default().Syscalls {
		if slices.Contains(s.Names, "clone3") && s.Action != ActTrace {
			t.Errorf("clone3: action %s, want %s", s.Action, ActTrace)
		}
	}
	for _, n := range []string{"read", "write", "execve", "mmap", "exit_group", "futex"} {
		if !allowedNames[n] {
			t.Errorf("%s must be allowed", n)
		}
	}
}

func TestParse(t *testing.T) {
	good, _ := Default().Marshal()
	if _, err := Parse(good); err != nil {
		t.Fatalf("default profile does not parse: %v", err)
	}
	tests := []struct{ name, doc, want string }{
		{"not json", `{`, "parse seccomp profile"},
		{"allow all", `{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"x"}],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`, "not a filter"},
		{"no arch", `{"defaultAction":"SCMP_ACT_ERRNO","archMap":[],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`, "no architectures"},
		{"unknown field", `{"defaultAction":"SCMP_ACT_ERRNO","bogus":1}`, "unknown field"},
		{"bad action", `{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"x"}],"syscalls":[{"names":["read"],"action":"SCMP_ACT_KILL_ALL"}]}`, "rule 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}
