//go:build seccomp && cgo

// Package table reads libseccomp's syscall names for the architectures
// sablebox checks profiles for.
package table

import (
	"fmt"
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
		for n := base; n < base+maxNumber; n++ {
			name, err := libseccomp.ScmpSyscall(n).GetNameByArch(a.arch)
			if err == nil && name != "" && !strings.HasPrefix(name, "UNKNOWN") {
				names = append(names, fmt.Sprintf("%s:%d", name, n))
			}
		}
		if len(names) < 200 {
			return nil, fmt.Errorf("libseccomp names only %d syscalls on %s", len(names), a.OCI)
		}
		out[a.OCI] = strings.Join(names, " ")
	}
	return out, nil
}

// Version is the linked libseccomp's version.
func Version() (major, minor, micro uint) { return libseccomp.GetLibraryVersion() }
