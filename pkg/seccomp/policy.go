package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The built-in profiles, by name.
const (
	DefaultName = "default"
	PythonName  = "python"
	StrictName  = "strict"
	// UnconfinedName is no filter at all: a run gets it only where the
	// config opts in, and says so loudly.
	UnconfinedName = "unconfined"
)

// Builtins names the built-in profiles, the default first.
var Builtins = []string{DefaultName, PythonName, StrictName}

// Why the default errno is EPERM and not ENOSYS: EPERM is what a refused
// call means, and what a tool's error message should say ("Operation not
// permitted", a PermissionError in Python), where ENOSYS would send a user
// looking for an old kernel. The one call whose refusal must look like
// absence is clone3 (below), so that libc falls back to clone, whose flags
// the filter can read. runc already answers ENOSYS for syscalls newer than
// every name in a profile, which covers libc's other fallbacks.

// allowed groups the syscalls of the default profile by what they are for.
// Keep each group sorted; add a syscall only with the reason a tool needs
// it. Calls whose name alone is too broad are in narrowed, with the values
// they may take.
var allowed = []struct {
	why   string
	names []string
}{
	{"files and directories", []string{
		"access", "chdir", "chmod", "chown", "close", "close_range", "copy_file_range", "creat",
		"dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir",
		"fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl", "fdatasync", "flock",
		"fstat", "fstatfs", "fsync", "ftruncate", "futimesat", "getcwd", "getdents", "getdents64",
		"lchown", "link", "linkat", "lseek", "lstat", "mkdir", "mkdirat", "newfstatat", "open",
		"openat", "openat2", "pread64", "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2",
		"read", "readahead", "readlink", "readlinkat", "readv", "rename", "renameat", "renameat2",
		"rmdir", "sendfile", "splice", "stat", "statfs", "statx", "symlink", "symlinkat", "sync",
		"sync_file_range", "syncfs", "tee", "truncate", "umask", "unlink", "unlinkat", "utime",
		"utimensat", "utimes", "write", "writev",
	}},
	{"extended attributes (read and own files)", []string{
		"fgetxattr", "flistxattr", "fremovexattr", "fsetxattr", "getxattr", "lgetxattr",
		"listxattr", "llistxattr", "lremovexattr", "lsetxattr", "removexattr", "setxattr",
	}},
	{"memory", []string{
		"brk", "madvise", "membarrier", "mincore", "mlock", "mlock2", "mlockall", "mmap",
		"mprotect", "mremap", "msync", "munlock", "munlockall", "munmap", "pkey_alloc",
		"pkey_free", "pkey_mprotect", "remap_file_pages",
	}},
	{"processes and threads (bounded by the pids limit)", []string{
		"arch_prctl", "execve", "exit", "exit_group", "fork", "get_robust_list",
		"get_thread_area", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrlimit",
		"getrusage", "getsid", "gettid", "landlock_add_rule", "landlock_create_ruleset",
		"landlock_restrict_self", "prlimit64", "rseq", "seccomp", "set_robust_list",
		"set_thread_area", "set_tid_address", "setpgid", "setpriority", "setrlimit", "setsid",
		"ugetrlimit", "vfork", "wait4", "waitid",
	}},
	{"identity queries (changing identity is refused)", []string{
		"capget", "getegid", "geteuid", "getgid", "getgroups", "getresgid", "getresuid", "getuid",
	}},
	{"scheduling", []string{
		"getcpu", "ioprio_get", "ioprio_set", "sched_get_priority_max", "sched_get_priority_min",
		"sched_getaffinity", "sched_getattr", "sched_getparam", "sched_getscheduler",
		"sched_rr_get_interval", "sched_setaffinity", "sched_setattr", "sched_setparam",
		"sched_setscheduler", "sched_yield",
	}},
	{"signals", []string{
		"kill", "pause", "restart_syscall", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
		"rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
		"rt_tgsigqueueinfo", "sigaltstack", "signalfd", "signalfd4", "tgkill", "tkill",
	}},
	{"time and timers", []string{
		"alarm", "clock_getres", "clock_gettime", "clock_nanosleep", "getitimer", "gettimeofday",
		"nanosleep", "setitimer", "time", "timer_create", "timer_delete", "timer_getoverrun",
		"timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
		"times",
	}},
	{"waiting and events", []string{
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
		"eventfd", "eventfd2", "futex", "futex_waitv", "inotify_add_watch", "inotify_init",
		"inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents",
		"io_pgetevents", "io_setup", "io_submit", "pipe", "pipe2", "poll", "ppoll", "pselect6",
		"select",
	}},
	{"System V and POSIX IPC (private to the sandbox's IPC namespace)", []string{
		"mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
		"msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop",
		"shmat", "shmctl", "shmdt", "shmget",
	}},
	{"sockets (the sandbox has no network; socket() itself is narrowed)", []string{
		"accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt",
		"listen", "recvfrom", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto",
		"setsockopt", "shutdown", "socketpair",
	}},
	{"system facts", []string{
		"getrandom", "sysinfo", "uname",
	}},
}

// masked compares argument index's low 32 bits (an int or unsigned int in
// the kernel, whose upper bits it ignores) with value.
func masked(index uint, value uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: index, Value: 0xffffffff, ValueTwo: value, Op: specs.OpMaskedEqual}
}

// Clone flags that create namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS,
// NEWIPC, NEWUSER, NEWPID, NEWNET. clone with any of them is refused.
const cloneNamespaceFlags = 0x7E020000

// Socket families and types.
const (
	afUnix, afInet, afInet6, afNetlink = 1, 2, 10, 16
	sockStream, sockDgram              = 1, 2
	sockTypeMask                       = 0xf // the type without SOCK_NONBLOCK and SOCK_CLOEXEC
	netlinkRoute                       = 0
)

// ioctlCommands are the ioctl requests a tool may make: terminal queries
// and settings, job control of its own terminal, and file-descriptor
// flags. TIOCSTI (type into a terminal) and TIOCLINUX (console commands)
// are not among them, nor any device's own requests.
var ioctlCommands = []struct {
	cmd  uint64
	name string
}{
	{0x5401, "TCGETS"}, {0x5402, "TCSETS"}, {0x5403, "TCSETSW"}, {0x5404, "TCSETSF"},
	{0x540B, "TCFLSH"}, {0x540F, "TIOCGPGRP"}, {0x5410, "TIOCSPGRP"}, {0x5411, "TIOCOUTQ"},
	{0x5413, "TIOCGWINSZ"}, {0x5414, "TIOCSWINSZ"}, {0x541B, "FIONREAD"}, {0x5421, "FIONBIO"},
	{0x5450, "FIONCLEX"}, {0x5451, "FIOCLEX"}, {0x5452, "FIOASYNC"}, {0x5460, "FIOQSIZE"},
}

// prctlOptions are the prctl options a tool may use: naming threads,
// reading its own state, and taking more restrictions on itself. Those
// that change privileges or memory maps (PR_SET_DUMPABLE, PR_SET_KEEPCAPS,
// PR_SET_SECUREBITS, PR_CAP_AMBIENT, PR_SET_MM, PR_SET_PTRACER, ...) are
// not among them.
var prctlOptions = []struct {
	option uint64
	name   string
}{
	{1, "PR_SET_PDEATHSIG"}, {2, "PR_GET_PDEATHSIG"}, {3, "PR_GET_DUMPABLE"}, {7, "PR_GET_KEEPCAPS"},
	{15, "PR_SET_NAME"}, {16, "PR_GET_NAME"}, {21, "PR_GET_SECCOMP"}, {22, "PR_SET_SECCOMP"},
	{23, "PR_CAPBSET_READ"}, {29, "PR_SET_TIMERSLACK"}, {30, "PR_GET_TIMERSLACK"},
	{36, "PR_SET_CHILD_SUBREAPER"}, {37, "PR_GET_CHILD_SUBREAPER"}, {38, "PR_SET_NO_NEW_PRIVS"},
	{39, "PR_GET_NO_NEW_PRIVS"}, {40, "PR_GET_TID_ADDRESS"}, {41, "PR_SET_THP_DISABLE"},
	{42, "PR_GET_THP_DISABLE"}, {52, "PR_GET_SPECULATION_CTRL"}, {55, "PR_SET_TAGGED_ADDR_CTRL"},
	{56, "PR_GET_TAGGED_ADDR_CTRL"}, {0x53564d41, "PR_SET_VMA"},
}

// narrowed are the rules of the calls whose name alone is too broad, each
// with the argument values it may take. A profile that allows one of
// these names gets its rules here, never the bare name.
func narrowed() map[string][]Syscall {
	r := map[string][]Syscall{
		"clone": {Rule(ActAllow, "threads and processes, but no new namespaces", []string{"clone"},
			specs.LinuxSeccompArg{Index: 0, Value: cloneNamespaceFlags, ValueTwo: 0, Op: specs.OpMaskedEqual})},
		"clone3": {Rule(ActTrace, "its flags are in memory the filter cannot read: ENOSYS (trace with no tracer) makes libc fall back to clone; an errno rule would give EPERM on gVisor, and threads would fail", []string{"clone3"})},
		"socket": {
			Rule(ActAllow, "unix sockets", []string{"socket"}, masked(0, afUnix)),
			Rule(ActAllow, "netlink route queries only (getaddrinfo asks which addresses exist)", []string{"socket"}, masked(0, afNetlink), masked(2, netlinkRoute)),
		},
		"personality": {
			Rule(ActAllow, "personality: query only", []string{"personality"}, masked(0, 0xffffffff)),
			Rule(ActAllow, "personality: the plain Linux one (ADDR_NO_RANDOMIZE and the rest are refused)", []string{"personality"}, masked(0, 0)),
		},
	}
	for _, family := range []struct {
		af   uint64
		name string
	}{{afInet, "IPv4"}, {afInet6, "IPv6"}} {
		for _, typ := range []struct {
			t    uint64
			name string
		}{{sockStream, "stream"}, {sockDgram, "datagram"}} {
			r["socket"] = append(r["socket"], Rule(ActAllow,
				family.name+" "+typ.name+" sockets, which reach only the sandbox's own loopback (no raw or packet sockets)",
				[]string{"socket"}, masked(0, family.af), specs.LinuxSeccompArg{Index: 1, Value: sockTypeMask, ValueTwo: typ.t, Op: specs.OpMaskedEqual}))
		}
	}
	for _, c := range ioctlCommands {
		r["ioctl"] = append(r["ioctl"], Rule(ActAllow, "ioctl "+c.name, []string{"ioctl"}, masked(1, c.cmd)))
	}
	for _, o := range prctlOptions {
		r["prctl"] = append(r["prctl"], Rule(ActAllow, "prctl "+o.name, []string{"prctl"}, masked(0, o.option)))
	}
	return r
}

// narrowedOrder is the order narrowed rules appear in a profile.
var narrowedOrder = []string{"clone", "clone3", "socket", "ioctl", "prctl", "personality"}

// base is what every profile starts from.
func base() *Profile {
	eperm := uint(EPERM)
	return &Profile{
		DefaultAction:   ActErrno,
		DefaultErrnoRet: &eperm,
		ArchMap: []Arch{
			{Architecture: specs.ArchX86_64, SubArchitectures: []specs.Arch{}},
			{Architecture: specs.ArchAARCH64, SubArchitectures: []specs.Arch{}},
		},
	}
}

// Default returns sablebox's default profile: every group of allowed,
// and the narrowed calls.
func Default() *Profile {
	p := base()
	for _, g := range allowed {
		p.Syscalls = append(p.Syscalls, Rule(ActAllow, g.why, g.names))
	}
	n := narrowed()
	for _, name := range narrowedOrder {
		p.Syscalls = append(p.Syscalls, n[name]...)
	}
	return p
}

// fromReasons builds a profile that allows the named calls (narrowed ones
// by their rules), each rule with its reason.
func fromReasons(reasons []reason) *Profile {
	p := base()
	n := narrowed()
	for _, r := range reasons {
		rules, ok := n[r.name]
		if r.rules != nil {
			rules, ok = r.rules, true
		}
		if ok {
			for _, rule := range rules {
				rule.Comment = r.why + " (" + rule.Comment + ")"
				p.Syscalls = append(p.Syscalls, rule)
			}
			continue
		}
		p.Syscalls = append(p.Syscalls, Rule(ActAllow, r.why, []string{r.name}))
	}
	return p
}

// reason is one call of a minimal profile and why it is there; rules,
// when set, replace the call's rules (narrower than the default's).
type reason struct {
	name, why string
	rules     []Syscall
}

// Python returns the minimal profile for the image's CPython running real
// tools (pythonCalls).
func Python() *Profile { return fromReasons(pythonCalls) }

// Strict returns the profile for tools that only compute (strictCalls).
func Strict() *Profile { return fromReasons(strictCalls()) }

// Builtin returns the built-in profile of that name, or nil.
func Builtin(name string) *Profile {
	switch name {
	case DefaultName:
		return Default()
	case PythonName:
		return Python()
	case StrictName:
		return Strict()
	}
	return nil
}
