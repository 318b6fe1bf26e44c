# The selftest payloads' shared helpers: each payload reports every step
# as CONTAINED (refused the way a sandbox refuses), ESCAPED (it worked) or
# TRIED (only the host can tell), one line each on stdout.
import ctypes
import errno
import os
import sys

ARCH = os.uname().machine
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def escaped(what):
    print("ESCAPED", what, flush=True)


def contained(what):
    print("CONTAINED", what, flush=True)


def tried(what):
    print("TRIED", what, flush=True)


def refused(what, fn):
    """Run fn: an OSError is contained, anything else an escape."""
    try:
        fn()
    except OSError as e:
        contained("%s: %s" % (what, e.strerror or e))
        return True
    escaped(what)
    return False


def syscall(numbers, *args):
    """The raw syscall numbers[ARCH](args): (result, errno name or None)."""
    n = numbers.get(ARCH)
    if n is None:
        return None, "no number for " + ARCH
    r = libc.syscall(ctypes.c_long(n), *[ctypes.c_long(a) for a in args])
    if r == -1:
        e = ctypes.get_errno()
        return r, errno.errorcode.get(e, str(e))
    return r, None


def denied_syscall(what, numbers, *args):
    """A syscall that must fail: EPERM, EACCES or ENOSYS is contained."""
    r, err = syscall(numbers, *args)
    if r is None:
        contained("%s: %s" % (what, err))
    elif err in ("EPERM", "EACCES", "ENOSYS"):
        contained("%s: %s" % (what, err))
    else:
        escaped("%s returned %s (%s)" % (what, r, err or "no error"))


HOST_DIR = os.environ.get("SELFTEST_DIR", "/nonexistent")
HOST_SECRET = os.environ.get("SELFTEST_SECRET", "/nonexistent")
PROC_NAME = os.environ.get("SELFTEST_PROC", "sablebox-selftest-unknown")
# The run's limits, which the resource attacks go past (by a bounded
# amount, so that a sandbox without them does no harm).
LIMIT_PIDS = int(os.environ.get("SELFTEST_PIDS", "10"))
LIMIT_MEMORY = int(os.environ.get("SELFTEST_MEMORY", str(256 << 20)))
LIMIT_NOFILE = int(os.environ.get("SELFTEST_NOFILE", "256"))
LIMIT_TMP = int(os.environ.get("SELFTEST_TMP", str(64 << 20)))
LIMIT_OUTPUT = int(os.environ.get("SELFTEST_OUTPUT", str(64 << 20)))


def leave_child():
    """Leave a child detached (setsid, double fork), named PROC_NAME so
    that the host can find it."""
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", [PROC_NAME, "600"])
        os._exit(0)
    os.waitpid(pid, 0)
