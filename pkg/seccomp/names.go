package seccomp

import (
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// archTable is one architecture's syscalls, both ways.
type archTable struct {
	number map[string]int
	name   map[int]string
}

// syscallTable holds the syscalls of each architecture of table.go.
var syscallTable = func() map[specs.Arch]archTable {
	t := map[specs.Arch]archTable{}
	for arch, names := range tableNames {
		at := archTable{number: map[string]int{}, name: map[int]string{}}
		for _, pair := range strings.Fields(names) {
			name, num, _ := strings.Cut(pair, ":")
			n, err := strconv.Atoi(num)
			if err != nil {
				panic("seccomp: bad syscall table entry " + pair)
			}
			at.number[name], at.name[n] = n, name
		}
		t[arch] = at
	}
	return t
}()

// otherSyscalls are the names libseccomp knows only on architectures
// outside the table (s390x, ppc64le, mips, riscv64).
var otherSyscalls = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(otherNames) {
		m[n] = true
	}
	return m
}()

// Known reports whether libseccomp names the syscall on any architecture
// of the table. A profile may name a syscall that some of its
// architectures lack (open on arm64): libseccomp resolves it there to no
// syscall at all. A name that no architecture has is a mistake.
func Known(name string) bool {
	if otherSyscalls[name] {
		return true
	}
	for _, at := range syscallTable {
		if _, ok := at.number[name]; ok {
			return true
		}
	}
	return false
}

// OnArch reports whether the syscall has a number on arch.
func OnArch(name string, arch specs.Arch) bool {
	_, ok := syscallTable[arch].number[name]
	return ok
}

// NameOf is the name of syscall number n on arch, or "" when it has none.
func NameOf(arch specs.Arch, n int) string { return syscallTable[arch].name[n] }

// NumberOf is the number of the syscall name on arch.
func NumberOf(arch specs.Arch, name string) (int, bool) {
	n, ok := syscallTable[arch].number[name]
	return n, ok
}

// CountOn is how many syscalls arch has.
func CountOn(arch specs.Arch) int { return len(syscallTable[arch].number) }

// NativeArch is the seccomp architecture of this build ("" for one the
// table does not hold).
func NativeArch() specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return specs.ArchX86_64
	case "arm64":
		return specs.ArchAARCH64
	}
	return ""
}

// TableArches are the architectures whose names sablebox checks.
func TableArches() []string {
	var arches []string
	for a := range syscallTable {
		arches = append(arches, string(a))
	}
	slices.Sort(arches)
	return arches
}
