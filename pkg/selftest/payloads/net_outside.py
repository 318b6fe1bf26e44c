# Find a way off the host's loopback: a route, a resolver that answers,
# a listener others could reach.
import socket
routes = []
try:
    for line in open("/proc/net/route").read().splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] != "lo":
            routes.append(fields[0])
except OSError:
    pass
if routes:
    escaped("routes through " + ", ".join(sorted(set(routes))))
else:
    contained("no route but lo")
try:
    socket.getaddrinfo("localhost", 80)
    contained("localhost resolves only from /etc/hosts")
except OSError as e:
    contained("no resolver: %s" % e)
