"""Try the usual ways out of a sandbox and report each one.

Run it to see what sablebox contains: every line should say "blocked".

    sablebox run examples/escape.py
"""
import ctypes
import os
import socket
import subprocess

libc = ctypes.CDLL(None, use_errno=True)


def attempt(name, action):
    try:
        result = action()
        print(f"{name:32s} {'blocked' if result is False else 'ALLOWED'}")
    except Exception as e:  # any refusal is a pass
        print(f"{name:32s} blocked ({type(e).__name__})")


def write(path):
    with open(path, "w") as f:
        f.write("x")


def run_from_tmp():
    with open("/tmp/x.sh", "w") as f:
        f.write("#!/bin/sh\necho escaped\n")
    os.chmod("/tmp/x.sh", 0o755)
    subprocess.run(["/tmp/x.sh"], check=True)


def syscall_ok(rc):
    return rc == 0


attempt("write /etc/passwd", lambda: write("/etc/passwd"))
attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
attempt("path traversal ../../etc", lambda: write("/workspace/../../etc/x"))
attempt("exec from /tmp", run_from_tmp)
attempt("network beyond loopback", lambda: os.listdir("/sys/class/net") != ["lo"] or False)
attempt("raw packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
attempt("mount a tmpfs", lambda: syscall_ok(libc.mount(b"none", b"/mnt", b"tmpfs", 0, None)))
attempt("new user namespace", lambda: syscall_ok(libc.unshare(0x10000000)))
attempt("become root (setuid 0)", lambda: syscall_ok(libc.setuid(0)))
attempt("fork 100 processes", lambda: [os.fork() or os._exit(0) for _ in range(100)] and None)
