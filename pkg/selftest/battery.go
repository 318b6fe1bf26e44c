package selftest

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

//go:embed payloads
var payloads embed.FS

// source is an attack's payload as it runs: a Python payload after the
// shared prelude.
func (a *Attack) source() ([]byte, string, error) {
	body, err := payloads.ReadFile("payloads/" + a.Payload)
	if err != nil {
		return nil, "", fmt.Errorf("selftest: payload %s: %w", a.Payload, err)
	}
	if strings.HasSuffix(a.Payload, ".sh") {
		return body, sandbox.LangSh, nil
	}
	prelude, err := payloads.ReadFile("payloads/prelude.py")
	if err != nil {
		return nil, "", err
	}
	return append(append(prelude, '\n'), body...), sandbox.LangPython, nil
}

// Battery is every attack, by class.
var Battery = []*Attack{
	// resources
	{ID: "res.fork-bomb", Class: Resources, Payload: "res_fork_bomb.py", Tries: "a fork bomb, to four times the process limit",
		Contained: "a fork is refused at the process limit, and no process is left"},
	{ID: "res.memory-bomb", Class: Resources, Payload: "res_memory.py", Tries: "allocate and touch four times the memory limit",
		Contained: "the memory limit kills it (oom, 137) or refuses the allocation", Judge: judgeMemory},
	{ID: "res.cpu-spin", Class: Resources, Payload: "res_cpu.py", Tries: "spin every CPU forever",
		Contained: "the timeout kills it (124) and nothing is left", Judge: judgeTimeout,
		Limits: sandbox.Limits{Timeout: 2 * time.Second}},
	{ID: "res.output-flood", Class: Resources, Payload: "res_output_flood.py", Tries: "write 64 MiB to stdout and to stderr",
		Contained: "both are cut at the output cap, and the run ends", Judge: judgeFlood},
	{ID: "res.fd-exhaustion", Class: Resources, Payload: "res_fds.py", Tries: "open four times the descriptor limit",
		Contained: "the descriptor limit stops it"},
	{ID: "res.disk-fill", Class: Resources, Payload: "res_disk.py", Args: []string{"/tmp", "/output"}, Output: true,
		Tries: "fill /tmp and /output past their bounds", Contained: "each fills at its bound (ENOSPC or EFBIG)"},
	{ID: "res.huge-argv", Class: Resources, Payload: "res_argv.py", Tries: "lift the stack limit and exec with a 4 MiB argv and environment",
		Contained: "the stack limit stays, and the kernel refuses the exec (E2BIG)"},

	// file system
	{ID: "fs.write-host", Class: FileSystem, Payload: "fs_write_host.py", Tries: "write into a host directory by its host path",
		Contained: "no file appears in the host directory", Judge: judgeHost, HostSafe: true},
	{ID: "fs.read-secret", Class: FileSystem, Payload: "fs_read_secret.py",
		Tries:     "read a host secret by path, through /proc/1/root and /proc/self/root, and by climbing out of /workspace",
		Contained: "the secret appears nowhere in the output", Judge: judgeHost, HostSafe: true},
	{ID: "fs.host-tmp", Class: FileSystem, Payload: "fs_shared.py", Args: []string{"/tmp"},
		Tries: "leave a mark in the host's /tmp and read a secret the host left there", Contained: "the host's /tmp is not the tool's",
		Judge: judgeHost, HostSafe: true},
	{ID: "fs.host-var-tmp", Class: FileSystem, Payload: "fs_shared.py", Args: []string{"/var/tmp"},
		Tries: "leave a mark in the host's /var/tmp and read a secret the host left there", Contained: "the host's /var/tmp is not the tool's",
		Judge: judgeHost, HostSafe: true},
	{ID: "fs.host-dev-shm", Class: FileSystem, Payload: "fs_shared.py", Args: []string{"/dev/shm"},
		Tries: "leave a mark in the host's /dev/shm and read a secret the host left there", Contained: "the host's /dev/shm is not the tool's",
		Judge: judgeHost, HostSafe: true},
	{ID: "fs.write-system", Class: FileSystem, Payload: "fs_write_root.py", Tries: "write to /, /etc, /usr/bin, /workspace and the tool's directory",
		Contained: "every write fails (read-only file system or permission denied)"},
	{ID: "fs.exec-writable", Class: FileSystem, Payload: "fs_exec_tmp.py", Args: []string{"/tmp", "/dev/shm", "/output"}, Output: true,
		Tries: "copy a program to /tmp, /dev/shm and /output and run it", Contained: "each exec is refused (noexec)", HostSafe: true},
	{ID: "fs.exec-memfd", Class: FileSystem, Payload: "fs_exec_memfd.py", Tries: "run a program from a memfd",
		Contained: "memfd_create or the execve is refused", HostSafe: true},
	{ID: "fs.output-links", Class: FileSystem, Payload: "fs_links.py", Output: true,
		Tries:     "leave symlinks to a host secret and /etc/passwd, and a hard link, in /output",
		Contained: "no link, and nothing of the secret or of /etc/passwd, reaches the host's output directory", Judge: judgeOutputLinks},
	{ID: "fs.output-race", Class: FileSystem, Payload: "fs_output_race.py", Output: true,
		Tries:     "swap /output's entries with links to the host directory and secret while sablebox collects them",
		Contained: "nothing lands in the host directory, and no link or secret in the output directory", Judge: judgeOutputLinks},
	{ID: "fs.link-tricks", Class: FileSystem, Payload: "fs_link_tricks.py",
		Tries:     "read the host secret through symlinks, a hard link, /proc/self/root and a descriptor of /",
		Contained: "the secret appears nowhere in the output", Judge: judgeHost, HostSafe: true},
	{ID: "fs.devices", Class: FileSystem, Payload: "fs_devices.py", Tries: "mknod disk and memory devices; open /dev/sda, /dev/mem",
		Contained: "mknod is refused and no such device opens"},
	{ID: "fs.proc-sys-writes", Class: FileSystem, Payload: "fs_proc_sys.py",
		Tries: "open /proc/sys, /proc/sysrq-trigger, /sys and the cgroup files for writing", Contained: "every open fails"},
	{ID: "fs.proc-tricks", Class: FileSystem, Payload: "fs_proc_fd.py", Tries: "reach host files through /proc/*/fd and /proc/*/root",
		Contained: "no host file is reachable", HostSafe: true},

	// network
	{ID: "net.loopback", Class: Network, Payload: "net_loopback.py",
		Tries:     "reach TCP and UDP listeners and an abstract unix socket the battery opened on the host",
		Contained: "none of them sees a contact", Judge: judgeHost, HostSafe: true},
	{ID: "net.loopback6", Class: Network, Payload: "net_loopback6.py",
		Tries: "reach TCP and UDP listeners the battery opened on the host's ::1", Contained: "neither sees a contact",
		Judge: judgeHost, HostSafe: true},
	{ID: "net.dns", Class: Network, Payload: "net_dns.py",
		Tries:     "send DNS queries over UDP and TCP to a resolver the battery runs on the host's loopback",
		Contained: "the resolver sees no query", Judge: judgeHost, HostSafe: true},
	{ID: "net.bind-listener", Class: Network, Payload: "net_bind.py",
		Tries: "listen on loopback ports that the host dials while the run lasts", Contained: "the host reaches no listener of the tool",
		Judge: judgeHost, HostSafe: true},
	{ID: "net.unix-socket", Class: Network, Payload: "net_unix.py",
		Tries: "connect to a unix socket the battery listens on, by its host path", Contained: "the socket sees no contact",
		Judge: judgeHost, HostSafe: true},
	{ID: "net.raw-sockets", Class: Network, Payload: "net_sockets.py", Tries: "open raw and packet sockets; list interfaces",
		Contained: "the sockets are refused and lo is the only interface", HostSafe: true},
	{ID: "net.routes", Class: Network, Payload: "net_outside.py", Tries: "find a route off loopback",
		Contained: "there is no route but lo", HostSafe: true},

	// privilege
	{ID: "priv.identity", Class: Privilege, Payload: "priv_identity.py", Tries: "be uid 0, hold capabilities, lack no_new_privs, setuid(0)",
		Contained: "a non-root user with no capabilities and no_new_privs set; setuid and setgid fail", HostSafe: true},
	{ID: "priv.namespaces", Class: Privilege, Payload: "priv_namespaces.py", Tries: "unshare user, mount and network namespaces; mount; chroot",
		Contained: "each is refused"},
	{ID: "priv.kernel-surface", Class: Privilege, Payload: "priv_syscalls.py",
		Tries:     "ptrace, keyctl, add_key, bpf, perf_event_open, io_uring_setup, userfaultfd, init/finit/delete_module",
		Contained: "each is refused (EPERM or ENOSYS)", HostSafe: true},
	{ID: "priv.host-process", Class: Privilege, Payload: "priv_host_process.py",
		Tries: "ptrace and kill a process of the host by its pid", Contained: "the host's process is out of reach, and lives",
		Judge: judgeHost, HostSafe: true},
	{ID: "priv.cgroup-mount", Class: Privilege, Payload: "priv_cgroup.py",
		Tries:     "mount cgroup v1 and v2 and open release_agent and the root cgroup.procs for writing",
		Contained: "every mount is refused"},
	{ID: "priv.tiocsti", Class: Privilege, Payload: "priv_tiocsti.py", Tries: "push input into a terminal with TIOCSTI",
		Contained: "there is no terminal, or the ioctl is refused"},

	// runner
	{ID: "run.leftover-child", Class: RunnerC, Payload: "run_leftover.py", Tries: "leave a detached child (setsid, double fork) when the tool exits",
		Contained: "no process of the run is left on the host", Judge: judgeHost, HostSafe: true},
	{ID: "run.timeout-evasion", Class: RunnerC, Payload: "run_timeout.py", Tries: "ignore SIGTERM and keep a detached grandchild past the timeout",
		Contained: "the run times out (124) and no process of it is left", Judge: judgeTimeout, HostSafe: true,
		Limits: sandbox.Limits{Timeout: 2 * time.Second}},
	{ID: "run.zombie-storm", Class: RunnerC, Payload: "run_zombies.py", Tries: "leave four times the process limit of unreaped children",
		Contained: "the process limit stops it, and the run leaves nothing"},
	{ID: "run.forged-lines", Class: RunnerC, Payload: "run_forge.py", Tries: "print escape sequences and a fake sablebox line",
		Contained: "the output comes back byte-exact, and what sablebox shows a terminal of it holds no escape", Judge: judgeForge},
	{ID: "run.stdin", Class: RunnerC, Payload: "run_stdin.py", Tries: "read past stdin's end, write to it",
		Contained: "stdin ends, and takes no writes"},

	// leaks
	{ID: "leak.host", Class: Leaks, Payload: "leak_host.py",
		Tries:     "learn the host's environment, hostname, processes and kernel log; reach the engines' sockets",
		Contained: "none of the host's values shows, the kernel log and the sockets are refused", Judge: judgeLeaks, HostSafe: true},
	{ID: "leak.host-process", Class: Leaks, Payload: "leak_host_process.py",
		Tries:     "read a host process's environment, command line, memory map, cwd and root through /proc/PID",
		Contained: "none of it shows", Judge: judgeHost, HostSafe: true},
	{ID: "leak.identity", Class: Leaks, Payload: "leak_identity.py",
		Tries: "learn the host's machine id and its interfaces' MAC addresses", Contained: "neither shows",
		Judge: judgeHost, HostSafe: true},
}

// judgeHost judges a payload that only tries (TRIED lines): the host's
// evidence decides.
func judgeHost(o *Observation) (Status, string) {
	if st, why := hostEvidence(o); st != "" {
		return st, why
	}
	if st, why := judgeReport(o); st == Escaped {
		return st, why
	}
	if o.Err != nil {
		return Failed, o.Err.Error()
	}
	if len(o.reported("TRIED")) == 0 {
		return Failed, "the payload did not run to its end: " + string(o.Result.Status) + ": " + sandbox.LastLine(o.Result.Stderr.Data)
	}
	return Contained, "the host saw nothing of: " + strings.Join(o.reported("TRIED"), "; ")
}

// judgeTimeout: killed at the timeout, nothing left.
func judgeTimeout(o *Observation) (Status, string) {
	if st, why := hostEvidence(o); st != "" {
		return st, why
	}
	if o.Err != nil {
		return Failed, o.Err.Error()
	}
	if o.Result.Status != sandbox.StatusTimeout {
		return Escaped, "the run ended " + string(o.Result.Status) + ", not at its timeout"
	}
	return Contained, "killed at the timeout, nothing left"
}

// judgeMemory: killed for memory, or refused it.
func judgeMemory(o *Observation) (Status, string) {
	if st, why := judgeReport(o); st == Escaped {
		return st, why
	}
	if o.Err != nil {
		return Failed, o.Err.Error()
	}
	switch {
	case o.Result.Status == sandbox.StatusOOM:
		return Contained, "killed out of memory"
	case strings.Contains(string(o.Result.Stderr.Data), "MemoryError"):
		return Contained, "the allocation was refused (MemoryError)"
	}
	return Failed, "the run ended " + string(o.Result.Status) + ": " + sandbox.LastLine(o.Result.Stderr.Data)
}

// judgeFlood: both streams cut at the cap.
func judgeFlood(o *Observation) (Status, string) {
	if o.Err != nil {
		return Failed, o.Err.Error()
	}
	limit := o.Result.Limits.OutputBytes
	for _, s := range []sandbox.Output{o.Result.Stdout, o.Result.Stderr} {
		if !s.Truncated || int64(len(s.Data)) > limit {
			return Escaped, fmt.Sprintf("a stream kept %d bytes of %d (cap %d, truncated %v)", len(s.Data), s.Size, limit, s.Truncated)
		}
	}
	return Contained, fmt.Sprintf("both streams cut at %d bytes", limit)
}

// judgeOutputLinks: nothing linked, and nothing of the secret or of
// /etc/passwd, in the host's output directory.
func judgeOutputLinks(o *Observation) (Status, string) {
	if st, why := hostEvidence(o); st != "" {
		return st, why
	}
	if o.Err != nil {
		return Failed, o.Err.Error()
	}
	var bad []string
	_ = filepath.Walk(o.OutDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		if info.Mode()&os.ModeSymlink != 0 {
			bad = append(bad, "a symlink "+path)
			return nil
		}
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), o.Host.secret) || strings.HasPrefix(string(b), "root:") {
			bad = append(bad, "linked content in "+path)
		}
		return nil
	})
	if len(bad) > 0 {
		return Escaped, strings.Join(bad, "; ")
	}
	if len(o.reported("TRIED")) == 0 {
		return Failed, "the payload did not run to its end: " + sandbox.LastLine(o.Result.Stderr.Data)
	}
	return Contained, "the output directory holds no link and nothing linked"
}

// judgeForge: the output came back as the tool wrote it, and the
// terminal is shown nothing that acts on it.
func judgeForge(o *Observation) (Status, string) {
	if o.Err != nil {
		return Failed, o.Err.Error()
	}
	raw := o.Result.Stdout.Data
	if !bytes.Contains(raw, []byte("\x1b]0;pwned\x07")) || len(o.reported("TRIED")) == 0 {
		return Failed, "the output did not come back byte-exact"
	}
	if shown := o.terminal(raw); bytes.ContainsAny(shown, "\x1b\x07\r") {
		return Escaped, fmt.Sprintf("a terminal is shown the escapes: %q", shown[:min(len(shown), 60)])
	}
	return Contained, "byte-exact output; a terminal is shown it escaped"
}

// judgeLeaks: the payload's refusals, and none of the host's values.
func judgeLeaks(o *Observation) (Status, string) {
	if o.Host != nil && o.Host.hostname != "" && strings.Contains(string(o.Result.Stdout.Data), "hostname: "+o.Host.hostname+"\n") {
		return Escaped, "the run printed the host's hostname " + o.Host.hostname
	}
	return judgeReport(o)
}
