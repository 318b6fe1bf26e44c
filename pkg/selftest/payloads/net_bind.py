# Listen on loopback ports the host dials while the run lasts: a
# listener the host can reach is a way in.
import select
import socket
socks = []
for a, family in ((os.environ.get("SELFTEST_BIND", ""), socket.AF_INET), (os.environ.get("SELFTEST_BIND6", ""), socket.AF_INET6)):
    if not a:
        continue
    host, port = a.rsplit(":", 1)
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host.strip("[]"), int(port)))
        s.listen(4)
        socks.append(s)
        tried("listen on " + a)
    except OSError as e:
        tried("listen on %s: %s" % (a, e.strerror or e))
if socks:
    ready, _, _ = select.select(socks, [], [], 1.5)
    for s in ready:
        c, peer = s.accept()
        c.close()
        escaped("the host connected to the tool's listener from %s" % (peer,))
