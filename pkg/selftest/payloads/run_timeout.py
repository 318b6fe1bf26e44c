# Outlive the timeout: ignore SIGTERM, and keep a detached grandchild.
import signal
import time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", [PROC_NAME, "600"])
    os._exit(0)
os.waitpid(pid, 0)
print("TRIED outlive the timeout", flush=True)
while True:
    time.sleep(1)
