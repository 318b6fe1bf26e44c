# Leave a child running after the tool exits: detached with setsid and
# a double fork, named so that the host can find it.
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", [PROC_NAME, "600"])
    os._exit(0)
os.waitpid(pid, 0)
tried("a detached child left behind")
