"""Try the usual ways out of a sandbox and report each one.

The static-analysis gate refuses it before it starts (exit 126: it
imports ctypes, socket and subprocess, forks, and names paths outside the
sandbox's). Run it with the gate off to see what the sandbox itself
contains: every line should say "blocked", and the tool exits 0 only when
each attempt was refused the way a sandbox refuses it (a step that fails
for another reason proves nothing and is reported as UNEXPECTED).

    sablebox run examples/escape.py                  # refused by the gate
    sablebox run --analysis off examples/escape.py   # contained by the sandbox
"""
import ctypes
import errno
import os
import socket
import subprocess
import sys

libc = ctypes.CDLL(None, use_errno=True)
REFUSED = {errno.EPERM, errno.EACCES, errno.EROFS, errno.ENOENT}
failures = 0


def attempt(name, action, refused=REFUSED):
    """Run action; it is blocked when it returns False or raises an OSError
    whose errno is one of refused."""
    global failures
    try:
        result = action()
    except OSError as e:
        if e.errno in refused:
            print(f"{name:32s} blocked ({errno.errorcode.get(e.errno, e.errno)})")
            return
        verdict = f"UNEXPECTED {type(e).__name__}: {e}"
    except Exception as e:  # a bug in the attempt, not a refusal
        verdict = f"UNEXPECTED {type(e).__name__}: {e}"
    else:
        if result is False:
            print(f"{name:32s} blocked")
            return
        verdict = "ALLOWED"
    failures += 1
    print(f"{name:32s} {verdict}")


def write(path):
    with open(path, "w") as f:
        f.write("x")


def run_from_tmp():
    with open("/tmp/x.sh", "w") as f:
        f.write("#!/bin/sh\necho escaped\n")
    os.chmod("/tmp/x.sh", 0o755)
    subprocess.run(["/tmp/x.sh"], check=True)


def syscall(rc):
    """A libc call's result: False when it failed with a refusal."""
    if rc == 0:
        return True
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def only_loopback():
    return False if os.listdir("/sys/class/net") == ["lo"] else True


def fork_many():
    for _ in range(100):
        if os.fork() == 0:
            os._exit(0)


attempt("write /etc/passwd", lambda: write("/etc/passwd"))
attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
attempt("path traversal ../../etc", lambda: write("/workspace/../../etc/x"))
attempt("exec from /tmp", run_from_tmp, {errno.EACCES, errno.EPERM})
attempt("network beyond loopback", only_loopback)
attempt("raw packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW), {errno.EPERM, errno.EAFNOSUPPORT})
attempt("mount a tmpfs", lambda: syscall(libc.mount(b"none", b"/mnt", b"tmpfs", 0, None)), {errno.EPERM, errno.ENOENT})
attempt("new user namespace", lambda: syscall(libc.unshare(0x10000000)), {errno.EPERM, errno.EINVAL, errno.ENOSPC})
attempt("become root (setuid 0)", lambda: syscall(libc.setuid(0)), {errno.EPERM})
attempt("fork 100 processes", fork_many, {errno.EAGAIN})
sys.exit(1 if failures else 0)
