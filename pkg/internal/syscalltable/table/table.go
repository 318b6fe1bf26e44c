//go:build seccomp && cgo

// Package table reads libseccomp's syscall names for the architectures
// sablebox checks profiles for.
package table

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Arches are the architectures of the table, by their OCI name.
var Arches = []struct {
	OCI  specs.Arch
	arch libseccomp.ScmpArch
}{
	{specs.ArchX86_64, libseccomp.ArchAMD64},
	{specs.ArchAARCH64, libseccomp.ArchARM64},
	{specs.ArchX86, libseccomp.ArchX86},
	{specs.ArchX32, libseccomp.ArchX32},
	{specs.ArchARM, libseccomp.ArchARM},
}

// maxNumber bounds the syscall numbers asked about; x32's are offset by
// 0x40000000.
const maxNumber = 1024

// armPrivate is where ARM's private syscalls begin (__ARM_NR_BASE).
const armPrivate = 0x0f0000

// Read returns each architecture's names as name:number, space-separated
// in number order.
func Read() (map[specs.Arch]string, error) {
	out := map[specs.Arch]string{}
	for _, a := range Arches {
		base := 0
		if a.arch == libseccomp.ArchX32 {
			base = 0x40000000
		}
		var names []string
		add := func(from, to int) {
			for n := from; n < to; n++ {
				if name, ok := nameOn(a.arch, n); ok {
					names = append(names, fmt.Sprintf("%s:%d", name, n))
				}
			}
		}
		add(base, base+maxNumber)
		if a.arch == libseccomp.ArchARM {
			add(armPrivate, armPrivate+16) // breakpoint, cacheflush, set_tls
		}
		if len(names) < 200 {
			return nil, fmt.Errorf("libseccomp names only %d syscalls on %s", len(names), a.OCI)
		}
		out[a.OCI] = strings.Join(names, " ")
	}
	return out, nil
}

// others are the architectures libseccomp knows beyond Arches: their
// names are known, their numbers not kept (sablebox does not check
// profiles there).
var others = []libseccomp.ScmpArch{
	libseccomp.ArchMIPS, libseccomp.ArchMIPS64, libseccomp.ArchMIPS64N32, libseccomp.ArchMIPSEL,
	libseccomp.ArchMIPSEL64, libseccomp.ArchMIPSEL64N32, libseccomp.ArchPPC, libseccomp.ArchPPC64,
	libseccomp.ArchPPC64LE, libseccomp.ArchS390, libseccomp.ArchS390X, libseccomp.ArchPARISC,
	libseccomp.ArchPARISC64, libseccomp.ArchRISCV64,
}

// OtherNames returns the names libseccomp knows on the other
// architectures and on none of Arches, sorted and space-separated: a
// profile written for many architectures (Docker's) names them. MIPS
// numbers start at 4000, 5000 and 6000.
func OtherNames(tables map[specs.Arch]string) string {
	inTables := map[string]bool{}
	for _, names := range tables {
		for _, pair := range strings.Fields(names) {
			name, _, _ := strings.Cut(pair, ":")
			inTables[name] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, arch := range others {
		for n := 0; n < 7000; n++ {
			if name, ok := nameOn(arch, n); ok && !inTables[name] && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// nameOn is the name libseccomp gives syscall n on arch, if any.
func nameOn(arch libseccomp.ScmpArch, n int) (string, bool) {
	name, err := libseccomp.ScmpSyscall(n).GetNameByArch(arch)
	return name, err == nil && name != "" && !strings.HasPrefix(name, "UNKNOWN")
}

// Version is the linked libseccomp's version.
func Version() (major, minor, micro uint) { return libseccomp.GetLibraryVersion() }
