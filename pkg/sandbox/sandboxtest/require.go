package sandboxtest

import (
	"os"
	"strings"
	"testing"
)

// RequireEnv names the environment variable that lists the backends whose
// tests must run (comma-separated, or "all"); CI sets it.
const RequireEnv = "SABLEBOX_REQUIRE"

// Required reports whether name is listed in SABLEBOX_REQUIRE.
func Required(name string) bool {
	for _, n := range strings.Split(os.Getenv(RequireEnv), ",") {
		if n = strings.TrimSpace(n); n == name || n == "all" {
			return true
		}
	}
	return false
}

// SkipUnlessRequired skips t with a visible reason when the backend name
// cannot run here (err != nil), or fails t when SABLEBOX_REQUIRE names it.
func SkipUnlessRequired(t testing.TB, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required(name) {
		t.Fatalf("%s is required here (%s=%q) but unavailable: %v", name, RequireEnv, os.Getenv(RequireEnv), err)
	}
	t.Skipf("SKIP %s backend unavailable: %v (set %s=%s to make this a failure)", name, err, RequireEnv, name)
}
