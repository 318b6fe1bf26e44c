# Reach the listeners the battery opened on the host's loopback: TCP,
# UDP, and its abstract unix socket.
import socket
host, port = os.environ["SELFTEST_TCP"].rsplit(":", 1)
try:
    socket.create_connection((host, int(port)), timeout=2).close()
except OSError:
    pass
tried("TCP to " + os.environ["SELFTEST_TCP"])
host, port = os.environ["SELFTEST_UDP"].rsplit(":", 1)
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(3):
        s.sendto(b"selftest", (host, int(port)))
except OSError:
    pass
tried("UDP to " + os.environ["SELFTEST_UDP"])
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect("\0" + os.environ["SELFTEST_ABSTRACT"])
    s.close()
except OSError:
    pass
tried("the host's abstract unix socket")
