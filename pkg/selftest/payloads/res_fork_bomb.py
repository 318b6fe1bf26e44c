# A fork bomb, bounded at four times the process limit (so that a sandbox
# without one survives it): every child sleeps, and forks one more, until
# a fork is refused.
import signal
import time
bound = 4 * LIMIT_PIDS
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    # The bomb: a chain of processes, each forking the next, each telling
    # the parent how far it got through the pipe.
    os.close(r)
    os.setpgid(0, 0)
    depth = 1
    while depth < bound:
        try:
            child = os.fork()
        except OSError as e:
            os.write(w, b"refused %d %s\n" % (depth, (e.strerror or "").encode()))
            break
        if child:
            time.sleep(30)
            os._exit(0)
        depth += 1
    else:
        os.write(w, b"reached %d\n" % depth)
    time.sleep(30)
    os._exit(0)
os.close(w)
line = os.read(r, 256).decode().split()
try:
    os.killpg(pid, signal.SIGKILL)
except OSError:
    pass
os.waitpid(pid, 0)
if line and line[0] == "refused":
    contained("a fork was refused at %s processes (limit %d): %s" % (line[1], LIMIT_PIDS, " ".join(line[2:])))
elif line and line[0] == "reached":
    escaped("%s processes, past the limit of %d" % (line[1], LIMIT_PIDS))
