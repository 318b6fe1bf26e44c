# Open raw and packet sockets, and list the network interfaces: only lo
# may be there, and down or loopback-only.
import socket
refused("a raw IP socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close())
refused("a packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close())
names = [n for _, n in socket.if_nameindex()] if hasattr(socket, "if_nameindex") else os.listdir("/sys/class/net")
others = [n for n in names if n != "lo"]
if others:
    escaped("network interfaces other than lo: " + ", ".join(others))
else:
    contained("only lo: %s" % (names or "none"))
