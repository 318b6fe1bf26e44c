package seccomp

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Each committed profile must be what the policy generates: run
// `make profiles` after changing policy.go or minimal.go.
func TestCommittedProfilesAreCurrent(t *testing.T) {
	for _, name := range Builtins {
		want, err := Builtin(name).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", "..", "profiles", name+".json"))
		if err != nil {
			t.Fatalf("read committed profile: %v (run `make profiles`)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("profiles/%s.json is stale: run `make profiles` and commit the result", name)
		}
	}
}

func TestBuiltinsPassTheirOwnCheck(t *testing.T) {
	for _, name := range Builtins {
		p := Builtin(name)
		data, _ := p.Marshal()
		if _, err := Parse(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, arch := range []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64} {
			r := p.Check(arch)
			for _, f := range r.Dangerous {
				if !f.Narrowed {
					t.Errorf("%s on %s allows %s (%s risk) without a filter", name, arch, f.Name, f.Risk)
				}
			}
			if !slices.Contains(r.Refused, "clone3") {
				t.Errorf("%s on %s: clone3 must have its own ENOSYS rule", name, arch)
			}
		}
	}
}

// The minimal profiles only take away: python allows nothing the default
// does not, strict nothing python does not.
func TestMinimalProfilesNarrowTheDefault(t *testing.T) {
	arch := specs.ArchX86_64
	for _, pair := range [][2]string{{PythonName, DefaultName}, {StrictName, PythonName}} {
		d := Compare(Builtin(pair[0]), Builtin(pair[1]), arch)
		if len(d.OnlyA) > 0 {
			t.Errorf("%s allows what %s does not: %v", pair[0], pair[1], d.OnlyA)
		}
	}
	def, py, strict := Default().Check(arch), Python().Check(arch), Strict().Check(arch)
	if !(strict.Count() < py.Count() && py.Count() < def.Count()) {
		t.Errorf("counts: strict %d, python %d, default %d; want increasing", strict.Count(), py.Count(), def.Count())
	}
	if slices.Contains(strict.Allowed, "openat") || !slices.Contains(strict.Narrowed, "openat") {
		t.Error("strict must allow openat only for reading")
	}
	for _, n := range []string{"socket", "unlink", "rename"} {
		if slices.Contains(strict.Allowed, n) || slices.Contains(strict.Narrowed, n) {
			t.Errorf("strict allows %s", n)
		}
	}
}

func TestDefaultNarrowsBroadCalls(t *testing.T) {
	r := Default().Check(specs.ArchX86_64)
	for _, n := range []string{"clone", "socket", "ioctl", "prctl", "personality"} {
		if !slices.Contains(r.Narrowed, n) {
			t.Errorf("%s must be allowed only with argument filters", n)
		}
	}
	for _, n := range []string{"mount", "unshare", "setns", "ptrace", "bpf", "keyctl", "memfd_create", "setuid", "io_uring_setup"} {
		if slices.Contains(r.Allowed, n) || slices.Contains(r.Narrowed, n) {
			t.Errorf("%s must be refused", n)
		}
	}
	for _, n := range []string{"read", "write", "execve", "mmap", "exit_group", "futex"} {
		if !slices.Contains(r.Allowed, n) {
			t.Errorf("%s must be allowed", n)
		}
	}
}

func TestCheckFindsDangerousCalls(t *testing.T) {
	p := Default()
	p.Syscalls = append(p.Syscalls, Rule(ActAllow, "", []string{"ptrace", "memfd_create"}))
	r := p.Check("")
	if !r.Fails() || !slices.Equal(r.HighRisk(), []string{"ptrace"}) {
		t.Fatalf("high risk %v, want [ptrace]", r.HighRisk())
	}
	var memfd bool
	for _, f := range r.Dangerous {
		memfd = memfd || (f.Name == "memfd_create" && f.Risk == Medium && !f.Narrowed)
	}
	if !memfd {
		t.Fatalf("memfd_create not found: %+v", r.Dangerous)
	}
}

// Docker's includes and excludes are read as Docker reads them for a
// container without capabilities.
func TestIncludesAndExcludes(t *testing.T) {
	p := Default()
	admin := Rule(ActAllow, "", []string{"mount"})
	admin.Includes = &Filter{Caps: []string{"CAP_SYS_ADMIN"}}
	arm := Rule(ActAllow, "", []string{"sync_file_range2"})
	arm.Includes = &Filter{Arches: []specs.Arch{specs.ArchAARCH64}}
	p.Syscalls = append(p.Syscalls, admin, arm)
	if r := p.Check(specs.ArchX86_64); slices.Contains(r.Allowed, "mount") || slices.Contains(r.Allowed, "sync_file_range2") {
		t.Fatalf("rules for capabilities or other arches applied: %v", r.Allowed)
	}
}

// Docker's own default profile reads as Docker writes it: archMap
// entries for architectures sablebox has no table for, rules limited to
// them (by Docker's Go names) with their own syscalls, ARM's private
// calls, and rules for capabilities a sablebox container never has.
func TestDockerShapedProfileIsRead(t *testing.T) {
	doc := `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
	"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},
		{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]},
		{"architecture":"SCMP_ARCH_S390X","subArchitectures":["SCMP_ARCH_S390"]}],
	"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
		{"names":["s390_pci_mmio_read"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["s390","s390x"]}},
		{"names":["breakpoint","set_tls"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm","arm64"]}},
		{"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64","x32"]}},
		{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Check(specs.ArchX86_64)
	if !slices.Contains(r.Allowed, "arch_prctl") || slices.Contains(r.Allowed, "mount") || r.Count() != 3 {
		t.Fatalf("allowed on x86_64: %v", r.Allowed)
	}
	if _, err := Parse([]byte(strings.ReplaceAll(doc, `"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},
		{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]},
		{"architecture":`, ""))); err == nil || !strings.Contains(err.Error(), "no architecture sablebox checks names for") {
		t.Fatalf("a profile for s390x alone has no names sablebox can check: got %v", err)
	}
}

func TestParseNamesTheFieldAndTheFix(t *testing.T) {
	rule := `{"names":["read"],"action":"SCMP_ACT_ALLOW"}`
	arch := `"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":[]}]`
	tests := []struct{ name, doc, want string }{
		{"not json", `{`, "not valid JSON"},
		{"two documents", `{"defaultAction":"SCMP_ACT_ERRNO",` + arch + `,"syscalls":[` + rule + `]} {}`, "more than one JSON document"},
		{"wrong type", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"read"}]}`, "syscalls.names: want a JSON []string"},
		{"unknown field", `{"defaultAction":"SCMP_ACT_ERRNO","bogus":1}`, `unknown field "bogus": remove it`},
		{"missing default", `{` + arch + `,"syscalls":[` + rule + `]}`, "defaultAction: missing"},
		{"allow all", `{"defaultAction":"SCMP_ACT_ALLOW",` + arch + `,"syscalls":[` + rule + `]}`, "defaultAction: SCMP_ACT_ALLOW lets every unlisted syscall through"},
		{"no arch", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[` + rule + `]}`, "archMap: no architectures"},
		{"unknown arch", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_PDP11"],"syscalls":[` + rule + `]}`, `"SCMP_ARCH_PDP11", is not one`},
		{"no rules", `{"defaultAction":"SCMP_ACT_ERRNO",` + arch + `,"syscalls":[]}`, "syscalls: no rules"},
		{"unknown name", `{"defaultAction":"SCMP_ACT_ERRNO",` + arch + `,"syscalls":[{"names":["raed"],"action":"SCMP_ACT_ALLOW"}]}`, `syscalls[0].names[0]: unknown syscall "raed"`},
		{"bad action", `{"defaultAction":"SCMP_ACT_ERRNO",` + arch + `,"syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}`, "syscalls[0].action: unknown or unsupported action"},
		{"bad op", `{"defaultAction":"SCMP_ACT_ERRNO",` + arch + `,"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_LIKE"}]}]}`, "syscalls[0].args[0].op: unknown comparison"},
		{"bad index", `{"defaultAction":"SCMP_ACT_ERRNO",` + arch + `,"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`, "args[0].index: 6"},
		{"deny same as default", `{"defaultAction":"SCMP_ACT_ERRNO",` + arch + `,"syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":21522,"op":"SCMP_CMP_EQ"}]}]}`, "the same as defaultAction"},
		{"listener", `{"defaultAction":"SCMP_ACT_ERRNO","listenerPath":"/x",` + arch + `,"syscalls":[` + rule + `]}`, "listenerPath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestKnownNames(t *testing.T) {
	if !Known("open") || OnArch("open", specs.ArchAARCH64) || !OnArch("openat", specs.ArchAARCH64) {
		t.Fatal("open is x86_64's, openat both")
	}
	if Known("raed") {
		t.Fatal("raed is no syscall")
	}
	if NameOf(specs.ArchX86_64, 0) != "read" || NameOf(specs.ArchAARCH64, 63) != "read" {
		t.Fatal("read is 0 on x86_64 and 63 on arm64")
	}
}
