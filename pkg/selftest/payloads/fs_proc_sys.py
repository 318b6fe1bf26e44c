# Write the kernel's settings under /proc/sys and /sys, and a cgroup's.
for path, value in (("/proc/sys/kernel/hostname", "selftest"), ("/proc/sys/vm/drop_caches", "3"),
                    ("/proc/sysrq-trigger", "h"), ("/sys/kernel/mm/transparent_hugepage/enabled", "never"),
                    ("/sys/fs/cgroup/cgroup.procs", str(os.getpid())),
                    ("/sys/fs/cgroup/pids/pids.max", "max"), ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "-1")):
    def write(path=path, value=value):
        with open(path, "w") as f:
            f.write(value)
    refused("write " + path, write)
