# Mount the cgroup file system and open its escape hatches for writing:
# a v1 hierarchy's release_agent (run by the host's kernel as root) and
# the root cgroup's cgroup.procs. Nothing is written.
import tempfile
d = tempfile.mkdtemp(prefix="selftest-cgroup-")
for fstype, options, hatch in ((b"cgroup", b"memory", "release_agent"), (b"cgroup", b"none,name=selftest", "release_agent"),
                               (b"cgroup2", None, "cgroup.procs")):
    what = "mount %s%s" % (fstype.decode(), " -o " + options.decode() if options else "")
    if libc.mount(fstype, d.encode(), fstype, 0, options) != 0:
        contained("%s: %s" % (what, os.strerror(ctypes.get_errno())))
        continue
    try:
        fd = os.open(os.path.join(d, hatch), os.O_WRONLY)
        os.close(fd)
        escaped("%s, and opened its %s for writing" % (what, hatch))
    except OSError as e:
        escaped("%s (its %s: %s)" % (what, hatch, e.strerror))
    libc.umount2(d.encode(), 2)  # MNT_DETACH
os.rmdir(d)
