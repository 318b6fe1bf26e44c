package seccomp

import (
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// plumbingCalls are what the sandbox's own processes call around a tool,
// whatever the tool: the engines' init (docker-init, catatonit), the warm
// bootstrap (python3 -I -S, then /bin/sh), /bin/sh running the tool and
// holding a Docker container up after it, and the tar that reads its
// /output back (tar's user-name lookup may be refused: it falls back to
// numbers).
// Measured with strace on this project's image; the conformance suite
// runs learned profiles on every backend, which fails when one is missing.
var plumbingCalls = []string{
	"access", "arch_prctl", "brk", "chdir", "clock_getres", "clock_gettime", "clone", "clone3", "close", "close_range", "dup2", "dup3", "execve",
	"exit", "exit_group", "faccessat2", "fadvise64", "fcntl", "fstatfs", "futex", "getdents64", "getegid", "geteuid", "getgid",
	"getcpu", "getcwd", "getpgrp", "getpid", "getppid", "getrandom", "gettid", "gettimeofday", "getuid", "ioctl", "kill", "lseek", "madvise",
	"mmap", "mprotect", "munmap", "newfstatat", "openat", "pipe2", "prctl", "pread64", "prlimit64", "read",
	"readlink", "rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait",
	"set_robust_list", "set_tid_address", "setpgid", "signalfd4", "statfs", "sysinfo", "time", "vfork", "wait4",
	"write",
}

// Learning is what a learned profile holds, for the caller to report.
type Learning struct {
	// Made are the syscalls the tool made that the profile allows, and
	// Refused those it made that the profile refused (left out).
	Made, Refused []string
	// Plumbing are the calls added for the sandbox's own processes.
	Plumbing []string
}

// Learned returns the profile that allows exactly the calls in made (what
// a tool did under from), with from's rules for each (its argument
// filters too), and the sandbox's plumbing. Calls that from refuses stay
// refused.
func Learned(from *Profile, arch specs.Arch, made []string) (*Profile, Learning) {
	r := from.Check(arch)
	allows := r.Lets()
	for _, n := range r.Refused {
		allows[n] = true // clone3: its ENOSYS rule is kept for a tool that tried it
	}
	var l Learning
	tool := map[string]bool{}
	for _, n := range made {
		if allows[n] {
			tool[n] = true
			l.Made = append(l.Made, n)
		} else {
			l.Refused = append(l.Refused, n)
		}
	}
	p := &Profile{DefaultAction: from.DefaultAction, DefaultErrnoRet: from.DefaultErrnoRet,
		Architectures: from.Architectures, ArchMap: from.ArchMap, Flags: from.Flags}
	plumbing := map[string]bool{}
	for _, s := range from.Syscalls {
		var byTool, forPlumbing []string
		for _, n := range s.Names {
			switch {
			case tool[n]:
				byTool = append(byTool, n)
			case slices.Contains(plumbingCalls, n) && allows[n]:
				forPlumbing = append(forPlumbing, n)
				plumbing[n] = true
			}
		}
		if len(byTool) > 0 {
			rule := s
			rule.Names, rule.Comment = byTool, "learned: the tool made it; "+s.Comment
			p.Syscalls = append(p.Syscalls, rule)
		}
		if len(forPlumbing) > 0 {
			rule := s
			rule.Names, rule.Comment = forPlumbing, "sandbox plumbing (the engine's init, the warm bootstrap, /bin/sh, the output reader); "+s.Comment
			p.Syscalls = append(p.Syscalls, rule)
		}
	}
	for n := range plumbing {
		if !tool[n] {
			l.Plumbing = append(l.Plumbing, n)
		}
	}
	sort.Strings(l.Made)
	sort.Strings(l.Refused)
	sort.Strings(l.Plumbing)
	return p, l
}
