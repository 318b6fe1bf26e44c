# Reach other processes' files through /proc: pid 1's root and fds, and
# every /proc/*/fd, for anything of the host.
found = []
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        for fd in os.listdir("/proc/%s/fd" % pid):
            target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
            if HOST_DIR in target:
                found.append(target)
    except OSError:
        pass
if found:
    escaped("a host file open in another process: " + found[0])
else:
    contained("no host file among the fds under /proc")
try:
    names = os.listdir("/proc/1/root" + HOST_DIR)
    escaped("listed the host directory through /proc/1/root: %s" % names)
except OSError as e:
    contained("/proc/1/root%s: %s" % (HOST_DIR, e.strerror))
