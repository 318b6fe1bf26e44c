# Read a host process's environment, command line, memory map, working
# directory and root through /proc/PID.
pid = os.environ["SELFTEST_CANARY_PID"]
for what in ("environ", "cmdline", "maps", "status"):
    try:
        with open("/proc/%s/%s" % (pid, what), "rb") as f:
            print(what + ":", f.read(4096).replace(b"\0", b" ").decode(errors="replace"))
        tried("read /proc/%s/%s" % (pid, what))
    except OSError as e:
        tried("read /proc/%s/%s: %s" % (pid, what, e.strerror))
for what in ("cwd", "root"):
    try:
        print(what + ":", os.listdir("/proc/%s/%s%s" % (pid, what, HOST_DIR if what == "root" else "")))
        tried("list /proc/%s/%s" % (pid, what))
    except OSError as e:
        tried("list /proc/%s/%s: %s" % (pid, what, e.strerror))
