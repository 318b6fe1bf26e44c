# Spin every CPU forever.
import threading
def spin():
    while True:
        pass
for _ in range(os.cpu_count() or 2):
    threading.Thread(target=spin, daemon=True).start()
tried("spin")
spin()
