# Exec a program with a huge argument list and environment.
import subprocess
big = "x" * (128 << 10)
try:
    subprocess.run(["/bin/true"] + [big] * 64, env={"BIG": big * 8}, check=True)
    tried("a 8 MiB argv and a 1 MiB environment ran")
except OSError as e:
    contained("exec refused it: %s" % e.strerror)
