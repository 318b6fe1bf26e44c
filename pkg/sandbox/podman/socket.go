package podman

import (
	"os"
	"path/filepath"
	"strings"
)

// DefaultSockets are where Podman's service usually listens: rootful, then
// rootless.
func DefaultSockets() []string {
	socks := []string{"/run/podman/podman.sock"}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		socks = append(socks, filepath.Join(dir, "podman", "podman.sock"))
	}
	return socks
}

// ResolveURI picks the service address: the flag, then CONTAINER_HOST,
// then the first default socket that exists (the rootful one when none
// does, so that errors name a real place).
func ResolveURI(flag string) string {
	if flag != "" {
		return toURI(flag)
	}
	if env := os.Getenv("CONTAINER_HOST"); env != "" {
		return toURI(env)
	}
	socks := DefaultSockets()
	for _, s := range socks {
		if st, err := os.Stat(s); err == nil && st.Mode()&os.ModeSocket != 0 {
			return "unix://" + s
		}
	}
	return "unix://" + socks[0]
}

func toURI(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	return "unix://" + s
}

// IsLocal reports whether uri is a socket on this host, where sablebox can
// write files the service reads.
func IsLocal(uri string) bool { return strings.HasPrefix(uri, "unix://") }
