package docker

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// gvisorNoexecFixed is the first gVisor release date (YYYYMMDD) known to
// refuse mmap(PROT_EXEC) of a file on a noexec mount: google/gvisor#11358,
// merged 2025-01-15; releases from February 2025 carry it.
const gvisorNoexecFixed = 20250201

var runscDateRE = regexp.MustCompile(`(?:release-|~)(20\d{6})`)

// runscNoexecGap returns the Result.Degraded note for runs under the runsc
// at path when that gVisor lets a tool map files of the noexec /tmp,
// /dev/shm and home as executable (so ld.so can run an ELF dropped
// there), or "" when its version is known to refuse that. The version is
// asked of the binary when the daemon is on this host; a remote daemon's
// runsc, or one that does not answer, is taken as affected: sablebox never
// claims a protection it cannot confirm.
func runscNoexecGap(ctx context.Context, path string, local bool) string {
	version := "of unknown version (the daemon is not on this host)"
	if local && path != "" {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, path, "--version").Output()
		first, _, _ := strings.Cut(string(out), "\n")
		switch m := runscDateRE.FindStringSubmatch(first); {
		case err != nil:
			version = fmt.Sprintf("of unknown version (%s --version: %v)", path, err)
		case m == nil:
			version = fmt.Sprintf("of unknown version (%q)", strings.TrimSpace(first))
		default:
			if date, _ := strconv.Atoi(m[1]); date >= gvisorNoexecFixed {
				return ""
			}
			version = strings.TrimSpace(strings.TrimPrefix(first, "runsc version "))
		}
	}
	return "noexec: gVisor (runsc " + version + ") lets a tool mmap files on the noexec /tmp, /dev/shm and home " +
		"with PROT_EXEC, so ld.so can run an ELF dropped there; execve of such a file stays refused " +
		"(fixed in gVisor releases from 2025-02: upgrade runsc)"
}

// isLocalHost reports whether the daemon address is a socket on this host.
func isLocalHost(host string) bool { return strings.HasPrefix(host, "unix://") }
