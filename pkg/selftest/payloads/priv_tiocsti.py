# Push a character into the terminal's input queue (TIOCSTI) through
# every descriptor that might be a terminal, and /dev/tty.
import fcntl
TIOCSTI = 0x5412
fds = [0, 1, 2]
try:
    fds.append(os.open("/dev/tty", os.O_RDWR))
except OSError as e:
    contained("/dev/tty: %s" % e.strerror)
for fd in fds:
    try:
        fcntl.ioctl(fd, TIOCSTI, b"x")
    except OSError as e:
        contained("TIOCSTI on fd %d: %s" % (fd, e.strerror))
    else:
        print()  # a terminal echoes the pushed character: a line of its own
        escaped("TIOCSTI on fd %d pushed input" % fd)
