//go:build seccomp && cgo

package seccomp

import (
	"testing"

	"github.com/sablebox/sablebox/pkg/internal/syscalltable/table"
)

// The committed table must be what the linked libseccomp knows: run
// `make profiles` after upgrading libseccomp.
func TestSyscallTableIsFresh(t *testing.T) {
	names, err := table.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range table.Arches {
		if names[a.OCI] != tableNames[a.OCI] {
			t.Errorf("pkg/seccomp/table.go is stale for %s: run `make profiles` and commit the result", a.OCI)
		}
	}
	if table.OtherNames(names) != otherNames {
		t.Error("pkg/seccomp/table.go is stale for the other architectures' names: run `make profiles` and commit the result")
	}
}
