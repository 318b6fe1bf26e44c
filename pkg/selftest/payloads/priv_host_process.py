# Trace and kill a process of the host, by its pid.
import signal
pid = int(os.environ["SELFTEST_CANARY_PID"])
PTRACE_SEIZE = 0x4206
if libc.ptrace(ctypes.c_long(PTRACE_SEIZE), ctypes.c_long(pid), None, None) == 0:
    escaped("ptrace seized the host's process %d" % pid)
else:
    contained("ptrace of the host's process: %s" % errno.errorcode.get(ctypes.get_errno(), "?"))
try:
    os.kill(pid, signal.SIGKILL)
    tried("kill the host's process %d" % pid)
except OSError as e:
    tried("kill the host's process %d: %s" % (pid, e.strerror))
