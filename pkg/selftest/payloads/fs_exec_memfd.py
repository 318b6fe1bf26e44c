# Run a program from an anonymous memory file (memfd_create, then execve).
def run():
    fd = os.memfd_create("selftest", 0)
    os.write(fd, open("/bin/true", "rb").read())
    pid = os.fork()
    if pid == 0:
        try:
            os.execv("/proc/self/fd/%d" % fd, ["selftest"])
        finally:
            os._exit(99)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 99:
        raise PermissionError(errno.EACCES, "execve of the memfd refused")
refused("exec from a memfd", run)
