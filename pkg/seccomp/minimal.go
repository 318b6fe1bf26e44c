package seccomp

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// pythonCalls is the python profile: what the image's CPython (3.11,
// `python3 -I -S`) calls running the example tools in examples/python and
// examples/wordcount.py, as `sablebox seccomp learn` records it, with what
// the sandbox's own processes call around the tool (the engines' init,
// the warm bootstrap and /bin/sh), then a short margin, each named. A
// test learns the corpus again and fails when it needs a call not here.
//
// arm64 has no access, dup2, mkdir, rename, rmdir, unlink, readlink,
// pipe, poll or vfork: its libc calls the *at forms, dup3, pipe2, ppoll
// and clone, which are listed for it.
var pythonCalls = []reason{
	// Starting the interpreter.
	{name: "execve", why: "the engine's exec of the init and the tool, and /bin/sh's of the tool"},
	{name: "brk", why: "the C heap"},
	{name: "mmap", why: "the loader maps libraries; the allocator's arenas"},
	{name: "mprotect", why: "the loader's RELRO, thread stacks' guard pages"},
	{name: "munmap", why: "freeing arenas and mapped files"},
	{name: "madvise", why: "the allocator returns memory"},
	{name: "mremap", why: "margin: large reallocations (a growing list or bytes)"},
	{name: "arch_prctl", why: "libc sets the thread pointer (x86_64)"},
	{name: "set_tid_address", why: "libc's thread start"},
	{name: "set_robust_list", why: "libc's thread start (robust futexes)"},
	{name: "rseq", why: "libc registers restartable sequences"},
	{name: "prlimit64", why: "the interpreter reads its stack limit"},
	{name: "getrandom", why: "hash seeds, random and tempfile names"},
	{name: "sysinfo", why: "the interpreter sizes caches by memory"},
	{name: "uname", why: "margin: platform and os.uname"},
	// Files.
	{name: "openat", why: "imports, and the tool's files in /workspace, /tmp and /output"},
	{name: "read", why: "stdin, files, pipes"},
	{name: "write", why: "stdout, stderr, files"},
	{name: "readv", why: "margin: buffered reads"},
	{name: "writev", why: "margin: buffered writes"},
	{name: "pread64", why: "sqlite3 reads pages at offsets"},
	{name: "pwrite64", why: "sqlite3 writes pages at offsets"},
	{name: "close", why: "every file"},
	{name: "close_range", why: "the engines' init closes inherited descriptors"},
	{name: "lseek", why: "file positions (io, sqlite3)"},
	{name: "newfstatat", why: "stat, os.path and import lookups"},
	{name: "fstat", why: "margin: fstat of an open file where libc does not use newfstatat"},
	{name: "statx", why: "margin: libc's stat on newer releases"},
	{name: "statfs", why: "the init and sh ask the file system type"},
	{name: "fstatfs", why: "margin: as statfs, by descriptor"},
	{name: "access", why: "os.access, and sh's PATH search (x86_64)"},
	{name: "faccessat", why: "access on arm64"},
	{name: "faccessat2", why: "access on newer libc"},
	{name: "readlink", why: "the interpreter finds its prefix (x86_64)"},
	{name: "readlinkat", why: "readlink on arm64"},
	{name: "getdents64", why: "listing directories (os.listdir, glob, import)"},
	{name: "getcwd", why: "margin: os.getcwd and relative paths"},
	{name: "chdir", why: "margin: os.chdir"},
	{name: "fchdir", why: "margin: os.chdir by descriptor, shutil.rmtree's safe walk"},
	{name: "fcntl", why: "descriptor flags; sqlite3's locks"},
	{name: "ioctl", why: "isatty and the terminal's size"},
	{name: "dup", why: "margin: os.dup"},
	{name: "dup2", why: "sh's redirections (x86_64)"},
	{name: "dup3", why: "dup2 on arm64"},
	{name: "pipe2", why: "the init's signal pipe, sh's pipelines"},
	{name: "mkdir", why: "tempfile.mkdtemp, os.makedirs (x86_64)"},
	{name: "mkdirat", why: "mkdir on arm64"},
	{name: "rmdir", why: "shutil.rmtree and tempfile clean-up (x86_64)"},
	{name: "unlink", why: "removing files (x86_64)"},
	{name: "unlinkat", why: "removing files and directories (shutil.rmtree; arm64)"},
	{name: "rename", why: "os.rename, atomic replacement (x86_64)"},
	{name: "renameat", why: "rename on arm64"},
	{name: "renameat2", why: "rename on arm64 and newer libc"},
	{name: "chmod", why: "shutil.copy keeps modes (x86_64)"},
	{name: "fchmod", why: "margin: os.chmod by descriptor"},
	{name: "fchmodat", why: "chmod on arm64"},
	{name: "fchown", why: "shutil.copystat keeps the owner"},
	{name: "utimensat", why: "shutil.copystat keeps times"},
	{name: "listxattr", why: "shutil.copystat copies extended attributes"},
	{name: "llistxattr", why: "margin: as listxattr, of a link"},
	{name: "flistxattr", why: "margin: as listxattr, by descriptor"},
	{name: "sendfile", why: "shutil.copyfile's fast copy"},
	{name: "copy_file_range", why: "margin: shutil's fast copy on newer releases"},
	{name: "fadvise64", why: "sh and coreutils read ahead"},
	{name: "ftruncate", why: "margin: sqlite3 and file.truncate"},
	{name: "fsync", why: "margin: sqlite3 commits, os.fsync"},
	{name: "fdatasync", why: "sqlite3 commits"},
	{name: "umask", why: "margin: os.umask, tempfile"},
	// Threads, processes and signals.
	{name: "clone", why: "threads (libc falls back from clone3), and the init's and sh's children"},
	{name: "clone3", why: "answered ENOSYS, so that libc uses clone"},
	{name: "vfork", why: "sh and the init start their children (x86_64)"},
	{name: "wait4", why: "the init and sh reap their children"},
	{name: "waitid", why: "margin: subprocess and os.waitid"},
	{name: "exit", why: "a thread ends"},
	{name: "exit_group", why: "the process ends"},
	{name: "futex", why: "locks and condition variables between threads"},
	{name: "gettid", why: "threading.get_native_id, logging"},
	{name: "getpid", why: "os.getpid, tempfile, random's fork check"},
	{name: "getppid", why: "sh sets $PPID"},
	{name: "getpgrp", why: "sh's job control check"},
	{name: "setpgid", why: "the init puts the tool in its own process group"},
	{name: "getuid", why: "sh and the init check who they are"},
	{name: "geteuid", why: "os.geteuid, pathlib's home, sh"},
	{name: "getgid", why: "sh checks its group"},
	{name: "getegid", why: "sh checks its group"},
	{name: "prctl", why: "the init becomes a subreaper; threads are named"},
	{name: "rt_sigaction", why: "the interpreter's SIGINT handler, the bootstrap restores SIGPIPE and SIGXFSZ"},
	{name: "rt_sigprocmask", why: "threads start with signals blocked"},
	{name: "rt_sigreturn", why: "return from a signal handler"},
	{name: "rt_sigtimedwait", why: "the init waits for signals to forward"},
	{name: "signalfd4", why: "catatonit (Podman's init) waits for signals on a signalfd"},
	{name: "kill", why: "the init forwards signals; multiprocessing's racy shutdown path kills its workers"},
	{name: "tgkill", why: "margin: raise() and os.abort signal their own thread"},
	{name: "restart_syscall", why: "margin: a sleep interrupted by a stop resumes"},
	// Time and waiting.
	{name: "clock_gettime", why: "margin: time.time where the vDSO is not used (gVisor)"},
	{name: "clock_nanosleep", why: "margin: time.sleep"},
	{name: "nanosleep", why: "margin: time.sleep on older libc"},
	{name: "poll", why: "margin: select and subprocess's pipes (x86_64)"},
	{name: "ppoll", why: "margin: poll on arm64"},
	{name: "pselect6", why: "margin: select.select"},
	{name: "sched_getaffinity", why: "margin: os.sched_getaffinity, the CPUs a pool may use"},
	{name: "sched_yield", why: "margin: spinning locks yield"},
}

// strictDenied are the calls of the python profile that the strict one
// leaves out: everything that changes files, and openat beyond reading.
var strictDenied = []string{
	"chmod", "fchmod", "fchmodat", "fchown", "utimensat", "mkdir", "mkdirat", "rmdir", "unlink",
	"unlinkat", "rename", "renameat", "renameat2", "listxattr", "llistxattr", "flistxattr",
	"sendfile", "copy_file_range", "ftruncate", "fsync", "fdatasync", "pwrite64", "umask", "openat",
}

// Flags that make an open create or change a file: O_RDWR, O_CREAT,
// O_TRUNC and O_APPEND (the same on x86_64 and arm64). O_WRONLY alone is
// left: runc's init opens its exec FIFO so, once the profile is loaded,
// and without O_CREAT no file the tool could fill exists to open.
const openWriteFlags = 0x2 | 0x40 | 0x200 | 0x400

// strictCalls is the strict profile: the python profile with nothing that
// writes, creates or removes a file. A tool reads its inputs and writes
// stdout and stderr, which are open before it starts.
func strictCalls() []reason {
	var calls []reason
	for _, r := range pythonCalls {
		if !slices.Contains(strictDenied, r.name) {
			calls = append(calls, r)
		}
	}
	return append(calls, reason{name: "openat", why: "reading only: imports and input files",
		rules: []Syscall{Rule(ActAllow, "openat for reading only: no O_RDWR, O_CREAT, O_TRUNC or O_APPEND", []string{"openat"},
			specs.LinuxSeccompArg{Index: 2, Value: openWriteFlags, ValueTwo: 0, Op: specs.OpMaskedEqual})}})
}
