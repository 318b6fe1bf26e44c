# Reach the TCP and UDP listeners the battery opened on the host's ::1.
import socket
tcp, udp = os.environ.get("SELFTEST_TCP6", ""), os.environ.get("SELFTEST_UDP6", "")
if not tcp or not udp:
    contained("the host has no ::1 to attack")
    sys.exit(0)


def addr(a):
    host, port = a.rsplit(":", 1)
    return host.strip("[]"), int(port)


try:
    with socket.create_connection(addr(tcp), timeout=2):
        pass
    tried("connect to TCP " + tcp)
except OSError as e:
    tried("connect to TCP %s: %s" % (tcp, e.strerror or e))
try:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.sendto(b"selftest", addr(udp))
    tried("send to UDP " + udp)
except OSError as e:
    tried("send to UDP %s: %s" % (udp, e.strerror or e))
