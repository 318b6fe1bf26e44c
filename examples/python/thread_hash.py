"""Hash chunks of data on a thread pool and check the result against one
thread's."""
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

chunks = [bytes([i]) * 50000 for i in range(32)]
lock = threading.Lock()
done = []


def work(chunk):
    digest = hashlib.sha256(chunk).hexdigest()
    with lock:
        done.append(digest)
    return digest


with ThreadPoolExecutor(max_workers=4) as pool:
    parallel = list(pool.map(work, chunks))
serial = [hashlib.sha256(c).hexdigest() for c in chunks]
print("threads agree:", parallel == serial, len(done))
