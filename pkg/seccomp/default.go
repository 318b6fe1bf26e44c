package seccomp

import "github.com/sablebox/sablebox/pkg/sandbox"

// DefaultName is the name of the built-in profile.
const DefaultName = "default"

// allowed groups the syscalls of the default profile by what they are for.
// Keep each group sorted; add a syscall only with the reason a tool needs it.
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
		"arch_prctl", "execve", "execveat", "exit", "exit_group", "fork", "get_robust_list",
		"get_thread_area", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrusage",
		"getsid", "gettid", "prctl", "prlimit64", "rseq", "set_robust_list", "set_thread_area",
		"set_tid_address", "setpgid", "setpriority", "setrlimit", "setsid", "vfork", "wait4",
		"waitid", "getrlimit", "ugetrlimit", "seccomp", "landlock_add_rule",
		"landlock_create_ruleset", "landlock_restrict_self",
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
	{"sockets (the sandbox has no network; socket() is narrowed below)", []string{
		"accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt",
		"listen", "recvfrom", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto",
		"setsockopt", "shutdown", "socketpair",
	}},
	{"system facts", []string{
		"getrandom", "ioctl", "sysinfo", "uname",
	}},
}

// Clone flags that create namespaces; clone with any of them is refused.
const cloneNamespaceFlags = 0x7E020000

// Socket families a tool may open: AF_UNIX, AF_INET, AF_INET6. Netlink,
// packet and the rest are refused.
var socketFamilies = []uint64{1, 2, 10}

// Default returns sablebox's built-in profile.
func Default() *Profile {
	eperm := uint(EPERM)
	p := &Profile{
		DefaultAction:   ActErrno,
		DefaultErrnoRet: &eperm,
		ArchMap: []Arch{
			{Architecture: "SCMP_ARCH_X86_64", SubArchitectures: []string{}},
			{Architecture: "SCMP_ARCH_AARCH64", SubArchitectures: []string{}},
		},
	}
	for _, g := range allowed {
		p.Syscalls = append(p.Syscalls, Syscall{Names: g.names, Action: ActAllow, Comment: g.why})
	}
	p.Syscalls = append(p.Syscalls,
		Syscall{
			Names: []string{"clone"}, Action: ActAllow,
			Comment: "threads and processes, but no new namespaces",
			Args:    []Arg{{Index: 0, Value: cloneNamespaceFlags, ValueTwo: 0, Op: "SCMP_CMP_MASKED_EQ"}},
		},
		Syscall{
			Names: []string{"clone3"}, Action: ActTrace,
			Comment: "its flags cannot be inspected: ENOSYS (trace with no tracer) makes libc fall back to clone; an errno rule would give EPERM on gVisor, and threads would fail",
		},
	)
	for _, family := range socketFamilies {
		p.Syscalls = append(p.Syscalls, Syscall{
			Names: []string{"socket"}, Action: ActAllow,
			Comment: "unix and inet sockets only",
			Args:    []Arg{{Index: 0, Value: family, Op: "SCMP_CMP_EQ"}},
		})
	}
	return p
}

// DefaultProfile returns the built-in profile in the form a sandbox.Spec
// carries.
func DefaultProfile() *sandbox.SeccompProfile {
	sp, err := Default().Sandbox(DefaultName)
	if err != nil {
		panic("seccomp: built-in profile does not encode: " + err.Error())
	}
	return sp
}
