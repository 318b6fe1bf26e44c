package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Label keys put on everything a run creates, so that a later sablebox can
// find and reap what a dead one left behind.
const (
	LabelRun        = "io.sablebox.run"
	LabelVersion    = "io.sablebox.version"
	LabelOwnerPID   = "io.sablebox.owner.pid"
	LabelOwnerStart = "io.sablebox.owner.start"
	LabelOwnerPIDNS = "io.sablebox.owner.pidns"
	LabelBootID     = "io.sablebox.boot-id"
	LabelDeadline   = "io.sablebox.deadline"
)

// ReapGrace is how long past its deadline a run's leftovers may live before
// any sablebox reaps them, whoever owns them.
const ReapGrace = 30 * time.Second

// NewRunID returns a fresh random run id of 16 hex digits.
func NewRunID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sandbox: no randomness: " + err.Error()) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// Owner identifies the process that owns a run: its pid, the pid's start
// time (so a recycled pid is not mistaken for it), the host's boot id (so
// a pid from before a reboot or from another host is not either) and its
// pid namespace (so a sablebox in a container, which shares the engine
// and the boot id but not the pids, never takes a live run for a dead
// one, nor the other way round).
type Owner struct {
	PID    int
	Start  uint64
	BootID string
	PIDNS  string
}

// CurrentOwner describes this process.
func CurrentOwner() Owner {
	pid := os.Getpid()
	start, _ := processStart(pid)
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return Owner{PID: pid, Start: start, BootID: bootID(), PIDNS: ns}
}

// Labels returns the labels for a run owned by o that must be gone by
// deadline.
func (o Owner) Labels(runID, version string, deadline time.Time) map[string]string {
	return map[string]string{
		LabelRun:        runID,
		LabelVersion:    version,
		LabelOwnerPID:   strconv.Itoa(o.PID),
		LabelOwnerStart: strconv.FormatUint(o.Start, 10),
		LabelBootID:     o.BootID,
		LabelOwnerPIDNS: o.PIDNS,
		LabelDeadline:   strconv.FormatInt(deadline.Unix(), 10),
	}
}

// Orphaned reports whether the run that carries labels should be reaped at
// now, and why: its deadline passed long ago, or its owner ran on this boot
// of this host, in this pid namespace, and is gone. A run whose labels
// cannot be read is orphaned; labels without a pid namespace (older
// sablebox, the process sandbox's names) count as this one's.
func (o Owner) Orphaned(labels map[string]string, now time.Time) (bool, string) {
	deadline, err := strconv.ParseInt(labels[LabelDeadline], 10, 64)
	if err != nil {
		return true, "unreadable deadline label"
	}
	if now.After(time.Unix(deadline, 0).Add(ReapGrace)) {
		return true, "deadline passed"
	}
	if labels[LabelBootID] != o.BootID || o.BootID == "" {
		return false, "" // another host or boot: only the deadline can tell
	}
	if ns, ok := labels[LabelOwnerPIDNS]; ok && (ns != o.PIDNS || ns == "") {
		return false, "" // another pid namespace (a container): likewise
	}
	pid, err := strconv.Atoi(labels[LabelOwnerPID])
	if err != nil {
		return true, "unreadable owner label"
	}
	start, err := processStart(pid)
	if err != nil || strconv.FormatUint(start, 10) != labels[LabelOwnerStart] {
		return true, fmt.Sprintf("owner pid %d is gone", pid)
	}
	return false, ""
}

// processStart reads a process's start time in clock ticks since boot.
func processStart(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'. starttime is field 22, the 20th after the name.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

func bootID() string {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
