# A zombie storm: children that exit and are never reaped, up to four
# times the process limit, then exit with them.
n = 0
try:
    while n < 4 * LIMIT_PIDS:
        if os.fork() == 0:
            os._exit(0)
        n += 1
except OSError as e:
    contained("the process limit stopped it after %d zombies: %s" % (n, e.strerror))
else:
    escaped("%d zombies, past the limit of %d" % (n, LIMIT_PIDS))
