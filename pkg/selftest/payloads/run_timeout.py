# Outlive the timeout: ignore SIGTERM, and keep a detached grandchild.
import signal
import time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
leave_child()
print("TRIED outlive the timeout", flush=True)
while True:
    time.sleep(1)
