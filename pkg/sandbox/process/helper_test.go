package process

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
)

// TestEmbeddedHelperIsCurrent rebuilds the stage helper the way the
// Makefile does and compares it with the embedded one: a helper older than
// the stage code would run the sandbox with yesterday's rules.
func TestEmbeddedHelperIsCurrent(t *testing.T) {
	embedded, err := fs.ReadFile(helperFiles, helperPath)
	if err != nil {
		sandboxtest.SkipUnlessRequired(t, Name, errors.New("no embedded stage helper in this build: test with make"))
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain here to rebuild the helper with")
	}
	mod, err := exec.Command(goTool, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	out := filepath.Join(t.TempDir(), "sablebox-stage")
	// The same line as the Makefile's HELPER_BUILD.
	build := exec.Command(goTool, "build", "-ldflags", "-s -w", "-o", out, "./cmd/sablebox-stage")
	build.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-trimpath -buildvcs=false")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the helper: %v\n%s", err, msg)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, embedded) {
		t.Fatal("the embedded stage helper is stale: run make helper (make build and make test do) and build again")
	}
}

func TestSealedExecutableCannotChange(t *testing.T) {
	f, err := sealedExecutable("test", strings.NewReader("#!/bin/sh\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rw, err := os.OpenFile(f.Name(), os.O_WRONLY, 0)
	if err == nil {
		defer rw.Close()
		if _, err := rw.Write([]byte("x")); err == nil {
			t.Fatal("wrote to the sealed helper")
		}
	}
}
