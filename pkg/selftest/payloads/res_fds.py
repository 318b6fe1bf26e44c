# Open descriptors up to four times the limit.
fds = []
try:
    while len(fds) < 4 * LIMIT_NOFILE:
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    contained("the descriptor limit stopped it at %d: %s" % (len(fds), e.strerror))
else:
    escaped("opened %d descriptors, past the limit of %d" % (len(fds), LIMIT_NOFILE))
