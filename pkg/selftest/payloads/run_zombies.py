# A zombie storm: children that exit and are never reaped, up to the
# process limit, then exit with them.
n = 0
try:
    for _ in range(2000):
        if os.fork() == 0:
            os._exit(0)
        n += 1
except OSError as e:
    contained("the process limit stopped it after %d zombies: %s" % (n, e.strerror))
else:
    tried("%d zombies" % n)
