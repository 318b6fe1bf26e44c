# The kernel's attack surface a tool has no use for: ptrace, keyctl, bpf,
# perf_event_open, io_uring, userfaultfd, kernel modules.
import subprocess
N = lambda x86, arm: {"x86_64": x86, "aarch64": arm}
child = subprocess.Popen(["sleep", "5"])
PTRACE_ATTACH = 16
denied_syscall("ptrace(ATTACH) of a child", N(101, 117), PTRACE_ATTACH, child.pid, 0, 0)
child.kill()
denied_syscall("keyctl(GET_KEYRING_ID)", N(250, 219), 0, -3, 1)
denied_syscall("add_key", N(248, 217), 0, 0, 0, 0, 0)
denied_syscall("bpf(MAP_CREATE)", N(321, 280), 0, 0, 0)
buf = ctypes.create_string_buffer(128)
denied_syscall("perf_event_open", N(298, 241), ctypes.addressof(buf), 0, -1, -1, 0)
denied_syscall("io_uring_setup", N(425, 425), 8, ctypes.addressof(buf))
denied_syscall("userfaultfd", N(323, 282), 0)
denied_syscall("init_module", N(175, 105), 0, 0, 0)
denied_syscall("finit_module", N(313, 273), 0, 0, 0)
denied_syscall("delete_module", N(176, 106), 0, 0)
