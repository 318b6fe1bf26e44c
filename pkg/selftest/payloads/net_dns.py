# Ask the resolver the battery runs on the host's loopback, over UDP and
# TCP, for a name (a reserved one, which resolves nowhere).
import socket
import struct


def query(name):
    q = struct.pack(">HHHHHH", 0x5eb0, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def addr(a):
    host, port = a.rsplit(":", 1)
    return host, int(port)


q = query("sablebox-selftest.invalid")
udp, tcp = os.environ["SELFTEST_DNS"], os.environ["SELFTEST_DNS_TCP"]
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(q, addr(udp))
    tried("a DNS query over UDP to " + udp)
except OSError as e:
    tried("a DNS query over UDP to %s: %s" % (udp, e.strerror or e))
try:
    with socket.create_connection(addr(tcp), timeout=2) as c:
        c.sendall(struct.pack(">H", len(q)) + q)
    tried("a DNS query over TCP to " + tcp)
except OSError as e:
    tried("a DNS query over TCP to %s: %s" % (tcp, e.strerror or e))
try:
    with open("/etc/resolv.conf") as f:
        servers = [l.split()[1] for l in f if l.startswith("nameserver")]
    tried("the sandbox's resolvers: %s" % (", ".join(servers) or "none"))
except OSError as e:
    tried("/etc/resolv.conf: %s" % e.strerror)
