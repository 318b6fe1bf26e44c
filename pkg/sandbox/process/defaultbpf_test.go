//go:build seccomp && cgo

package process

import (
	"bytes"
	"flag"
	"os"
	"runtime"
	"testing"

	"github.com/sablebox/sablebox/pkg/seccomp"
)

var updateBPF = flag.Bool("update-bpf", false, "rewrite the default profile's compiled program (make profiles)")

// The default profile's carried program is what libseccomp makes of it.
func TestDefaultBPFIsFresh(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the compiled default profile is carried for amd64 only")
	}
	prog, err := compileSeccomp(seccomp.DefaultProfile().JSON)
	if err != nil {
		t.Fatal(err)
	}
	if *updateBPF {
		if err := os.WriteFile("default_amd64.bpf", prog, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(prog, defaultBPF) {
		t.Fatal("pkg/sandbox/process/default_amd64.bpf is stale: run `make profiles`")
	}
}
