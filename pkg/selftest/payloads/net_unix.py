# Connect to a unix socket the battery listens on, by its host path.
import socket
path = os.environ["SELFTEST_UNIX"]
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    tried("connect to " + path)
except OSError as e:
    tried("connect to %s: %s" % (path, e.strerror or e))
