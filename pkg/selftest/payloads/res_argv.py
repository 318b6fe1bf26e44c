# Lift the stack limit, then exec a program with a 4 MiB argument list and
# environment: the kernel allows a quarter of the stack limit, 2 MiB.
import resource
import subprocess
def lift():
    try:
        resource.setrlimit(resource.RLIMIT_STACK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except ValueError as e:  # Python's word for EPERM here
        raise PermissionError(errno.EPERM, str(e))
refused("lift RLIMIT_STACK", lift)
big = "x" * (120 << 10)
try:
    subprocess.run(["/bin/true"] + [big] * 30, env={"BIG": big}, check=True)
    escaped("a %d KiB argv and environment ran" % (31 * 120))
except OSError as e:
    contained("exec refused it: %s" % e.strerror)
