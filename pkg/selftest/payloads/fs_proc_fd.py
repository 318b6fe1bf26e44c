# Reach other processes' files through /proc: every process's open files
# and root directory, for anything of the host.
found, roots = [], []
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        for fd in os.listdir("/proc/%s/fd" % pid):
            target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
            if target.startswith(HOST_DIR):
                found.append(target)
    except OSError:
        pass
    try:
        os.listdir("/proc/%s/root%s" % (pid, HOST_DIR))
        roots.append(pid)
    except OSError:
        pass
if found:
    escaped("a host file open in another process: " + found[0])
else:
    contained("no host file among the fds under /proc")
if roots:
    escaped("listed the host directory through /proc/%s/root" % roots[0])
else:
    contained("no /proc/*/root reaches the host directory")
