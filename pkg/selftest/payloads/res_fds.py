# Open descriptors until the limit.
fds = []
try:
    while len(fds) < 1 << 20:
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    contained("the descriptor limit stopped it at %d: %s" % (len(fds), e.strerror))
else:
    escaped("opened %d descriptors" % len(fds))
