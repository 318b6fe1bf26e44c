# Who the tool is: uid 0, capabilities, no_new_privs, setuid.
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
if os.getuid() == 0 or os.geteuid() == 0:
    escaped("runs as uid 0")
else:
    contained("runs as uid %d" % os.getuid())
for cap in ("CapEff", "CapPrm", "CapAmb"):
    if int(status.get(cap, "0").strip(), 16) != 0:
        escaped("%s is %s" % (cap, status[cap].strip()))
    else:
        contained("%s is 0" % cap)
PR_GET_NO_NEW_PRIVS = 39  # what the kernel says; gVisor's /proc/self/status has no NoNewPrivs line
if libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1:
    escaped("no_new_privs is not set")
else:
    contained("no_new_privs is set")
if os.getuid() != 0:
    refused("setuid(0)", lambda: os.setuid(0))
    refused("setgid(0)", lambda: os.setgid(0))
