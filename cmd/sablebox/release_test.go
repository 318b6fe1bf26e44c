package main

import (
	"bufio"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The release artefacts (make release) install into a fresh directory:
// the checksums hold, the binary is static and runs, the image tarball
// loads into Docker and Podman (a file that is not one is refused in one
// line), and the demo runs a real tool.
func TestReleaseInstalls(t *testing.T) {
	dir := os.Getenv("SABLEBOX_RELEASE_DIR")
	if dir == "" {
		t.Skip("SKIP release: SABLEBOX_RELEASE_DIR is not set (`make release test-release` sets it)")
	}
	sums, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	var binary, tarball string
	sc := bufio.NewScanner(sums)
	for sc.Scan() {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: %q", sc.Text())
		}
		if got := sha256File(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %s", name, got, want)
		}
		switch {
		case strings.HasSuffix(name, "-linux-amd64"):
			binary = name
		case strings.HasSuffix(name, "-linux-arm64"):
			// Cross-compiled: no arm64 machine here to run it on, so it is
			// checked for what it is, an arm64 executable linked statically.
			checkStatic(t, filepath.Join(dir, name), elf.EM_AARCH64)
		case strings.HasPrefix(name, "sablebox-sandbox-image-") && strings.HasSuffix(name, ".tar"):
			tarball = filepath.Join(dir, name)
		}
	}
	if binary == "" || tarball == "" {
		t.Fatalf("SHA256SUMS lists no linux-amd64 binary or no image tarball")
	}

	// A fresh directory, as a user installs it.
	install := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(install, 0o755); err != nil {
		t.Fatal(err)
	}
	sb := filepath.Join(install, "sablebox")
	copyFile(t, filepath.Join(dir, binary), sb, 0o755)
	checkStatic(t, sb, elf.EM_X86_64)
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(sb, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"XDG_CONFIG_HOME=" + t.TempDir()}
		for _, kv := range os.Environ() { // as a user has it: no test settings
			if !strings.HasPrefix(kv, "SABLEBOX_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("", "version"); err != nil || !strings.HasPrefix(out, "sablebox ") {
		t.Fatalf("version: %v: %s", err, out)
	}
	for _, engine := range [][]string{{}, {"--runtime", "podman"}} {
		if out, err := run("", append(append([]string{"image", "load"}, engine...), tarball)...); err != nil || !strings.Contains(out, "sablebox: loaded sablebox/sandbox:latest") {
			t.Errorf("image load %v: %v: %s", engine, err, out)
		}
	}
	junk := filepath.Join(t.TempDir(), "junk.tar")
	if err := os.WriteFile(junk, []byte("not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run("", "image", "load", junk); err == nil || !strings.Contains(out, "want an image archive from `docker save`") || strings.Count(out, "\n") != 1 {
		t.Errorf("image load of junk: %v: %q", err, out)
	}
	// The README's demo: a real tool in the best sandbox here.
	examples, _ := filepath.Abs("../../examples")
	sample, err := os.ReadFile(filepath.Join(examples, "data", "sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(string(sample), "run", filepath.Join(examples, "wordcount.py"), "--", "--top", "3"); err != nil || !strings.Contains(out, "7 the") {
		t.Errorf("demo: %v: %s", err, out)
	}
}

// checkStatic checks that path is an executable for machine with no
// dynamic loader.
func checkStatic(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s is for %v, want %v", path, f.Machine, machine)
	}
	if f.Section(".interp") != nil {
		t.Errorf("%s is linked dynamically (it has an .interp)", path)
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}
