# What a tool can learn of the host: its environment, hostname, kernel
# log, processes, and the engines' sockets.
import socket
name = os.environ.get("SELFTEST_ENV_NAME", "")
print("\n".join("%s=%s" % kv for kv in os.environ.items()), flush=True)
tried("the environment")
print("hostname:", socket.gethostname(), flush=True)
tried("the hostname")
refused("read /dev/kmsg", lambda: os.close(os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)))
def dmesg():
    buf = ctypes.create_string_buffer(4096)
    if libc.klogctl(3, buf, 4096) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
refused("read the kernel log (syslog)", dmesg)
seen = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            seen.append(open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
print("processes:", " | ".join(seen), flush=True)
tried("the processes")
for sock in ("/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock", "/run/containerd/containerd.sock"):
    def connect(sock=sock):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(sock)
        s.close()
    refused("connect to " + sock, connect)
