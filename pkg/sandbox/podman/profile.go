package podman

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// DefaultProfileDir is where profiles go for a local service: a root-owned
// directory when sablebox runs as root, else the user's runtime dir.
func DefaultProfileDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/sablebox/seccomp"
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "sablebox", "seccomp")
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "sablebox", "seccomp")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("sablebox-%d", os.Getuid()), "seccomp")
}

// ProfilePath is where profile p lives in dir: named by its digest, so a
// file never changes once written and runs never race on it.
func ProfilePath(dir string, p *sandbox.SeccompProfile) string {
	return filepath.Join(dir, p.SHA256()+".json")
}

// WriteProfile puts p into dir unless an identical file is there already,
// atomically (write, then rename), readable by the service.
func WriteProfile(dir string, p *sandbox.SeccompProfile) (string, error) {
	path := ProfilePath(dir, p)
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, p.JSON) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("seccomp profile dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".profile-*")
	if err != nil {
		return "", fmt.Errorf("write seccomp profile: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this is a no-op
	if _, err := tmp.Write(p.JSON); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write seccomp profile: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write seccomp profile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write seccomp profile: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write seccomp profile: %w", err)
	}
	return path, nil
}
