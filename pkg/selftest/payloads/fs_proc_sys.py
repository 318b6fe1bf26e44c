# Open the kernel's settings under /proc/sys and /sys, and the cgroup
# files, for writing. Nothing is written: an open that works is the escape,
# and does no harm.
for path in ("/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger",
             "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/fs/cgroup/cgroup.procs",
             "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
             "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/memory.max"):
    if not os.path.exists(path):
        contained("%s: not there" % path)
        continue
    refused("open %s for writing" % path, lambda path=path: os.close(os.open(path, os.O_WRONLY)))
