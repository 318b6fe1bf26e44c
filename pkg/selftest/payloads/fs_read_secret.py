# Read the host's secret file by its host path, through /proc/1/root and
# /proc/self/root, and by climbing out of /workspace.
paths = [HOST_SECRET, "/proc/1/root" + HOST_SECRET, "/proc/self/root" + HOST_SECRET,
         "/workspace/../../../../.." + HOST_SECRET]
for p in paths:
    try:
        print(open(p).read(), flush=True)
    except OSError as e:
        pass
    tried("read " + p)
