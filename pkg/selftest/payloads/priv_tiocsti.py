# Push a command into the terminal's input queue (TIOCSTI) through every
# descriptor that might be a terminal, and /dev/tty.
import fcntl
TIOCSTI = 0x5412
fds = [0, 1, 2]
try:
    fds.append(os.open("/dev/tty", os.O_RDWR))
except OSError as e:
    contained("/dev/tty: %s" % e.strerror)
for fd in fds:
    refused("TIOCSTI on fd %d" % fd, lambda fd=fd: fcntl.ioctl(fd, TIOCSTI, b"x"))
