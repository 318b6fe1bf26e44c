package process

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	llsyscall "github.com/landlock-lsm/go-landlock/landlock/syscall"

	"github.com/sablebox/sablebox/pkg/internal/cgroup"
)

// Layer names, as used by Options.Require, Result.Degraded and doctor.
const (
	LayerUserNS     = "userns"
	LayerMountNS    = "mountns"
	LayerPidNS      = "pidns"
	LayerNetNS      = "netns"
	LayerIPCNS      = "ipcns"
	LayerCgroup     = "cgroup"
	LayerRlimits    = "rlimits"
	LayerNoNewPrivs = "no_new_privs"
	LayerLandlock   = "landlock"
	LayerSeccomp    = "seccomp"
)

// AllLayers lists every layer, in the order they are applied.
var AllLayers = []string{LayerUserNS, LayerMountNS, LayerPidNS, LayerNetNS, LayerIPCNS, LayerCgroup,
	LayerRlimits, LayerNoNewPrivs, LayerLandlock, LayerSeccomp}

// DefaultRequire are the layers a run must have unless told otherwise:
// those every Linux kernel sablebox supports can give.
var DefaultRequire = []string{LayerRlimits, LayerNoNewPrivs, LayerSeccomp}

// hostLayers says which layers this host can give and, for those it
// cannot, why. It is probed once per process.
type hostLayers struct {
	missing map[string]string // layer -> why not
}

var (
	probeOnce sync.Once
	probed    hostLayers
)

// has reports whether the host gives layer l.
func (h hostLayers) has(l string) bool { _, missing := h.missing[l]; return !missing }

// probe finds what this host allows.
func probe() hostLayers {
	probeOnce.Do(func() {
		h := hostLayers{missing: map[string]string{}}
		if !userNSAllowed() {
			h.missing[LayerUserNS] = "user namespaces are disabled on this host"
			if os.Geteuid() != 0 {
				for _, l := range []string{LayerMountNS, LayerPidNS, LayerNetNS, LayerIPCNS} {
					h.missing[l] = "needs a user namespace when sablebox is not root"
				}
			}
		}
		if err := cgroup.Usable(); err != nil {
			h.missing[LayerCgroup] = err.Error()
		}
		if abi, err := llsyscall.LandlockGetABIVersion(); err != nil || abi < 1 {
			h.missing[LayerLandlock] = "unsupported by the kernel (or not enabled among its LSMs)"
		}
		if !seccompBuiltIn {
			h.missing[LayerSeccomp] = "this sablebox was built without libseccomp (build it with `make build`)"
		}
		probed = h
	})
	return probed
}

func userNSAllowed() bool {
	n, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err == nil {
		if v, _ := strconv.Atoi(strings.TrimSpace(string(n))); v == 0 {
			return false
		}
	}
	if os.Geteuid() != 0 {
		if v, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(v)) == "0" {
			return false
		}
	}
	return true
}

// plan is what one run applies: the layers the host gives, and the notes
// for those it does not.
type plan struct {
	has      map[string]bool
	degraded []string
}

// makePlan checks the host against require and returns the plan, or an
// error naming each required layer that is missing.
func makePlan(require []string) (plan, error) {
	return planFor(probe(), require)
}

// planFor makes the plan for a host that gives h.
func planFor(h hostLayers, require []string) (plan, error) {
	p := plan{has: map[string]bool{}}
	var refused []string
	for _, l := range AllLayers {
		why, missing := h.missing[l]
		if !missing {
			p.has[l] = true
			continue
		}
		p.degraded = append(p.degraded, l+": "+why)
		for _, r := range require {
			if r == l {
				refused = append(refused, l+" ("+why+")")
			}
		}
	}
	if len(refused) > 0 {
		return p, fmt.Errorf("required layers missing here: %s", strings.Join(refused, "; "))
	}
	if !p.has[LayerMountNS] {
		p.degraded = append(p.degraded, "filesystem: no private root; Landlock alone limits what the tool reads and writes, and /tmp is a size-unlimited directory")
	}
	if !p.has[LayerCgroup] {
		p.degraded = append(p.degraded, "memory and pids: enforced by RLIMIT_AS and RLIMIT_NPROC only (out of memory ends as a failed run, not oom)")
	}
	return p, nil
}
