# Race sablebox while it brings /output back: a child keeps swapping
# /output/d between a directory holding a file and a symlink to the host
# directory, and /output/f between a file and a symlink to the host
# secret, for three seconds after the tool has exited.
import time
os.mkdir("/output/d")
with open("/output/d/x", "w") as f:
    f.write("raced\n")
with open("/output/f", "w") as f:
    f.write("plain\n")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        end = time.time() + 3
        while time.time() < end:
            try:
                os.symlink(HOST_DIR, "/output/d.link")
                os.rename("/output/d", "/output/d.dir")
                os.rename("/output/d.link", "/output/d")
                os.symlink(HOST_SECRET, "/output/f.link")
                os.rename("/output/f", "/output/f.file")
                os.rename("/output/f.link", "/output/f")
                time.sleep(0.001)
                os.remove("/output/d")
                os.rename("/output/d.dir", "/output/d")
                os.remove("/output/f")
                os.rename("/output/f.file", "/output/f")
            except OSError:
                time.sleep(0.001)
        os._exit(0)
    os._exit(0)
tried("swap /output/d and /output/f with links to the host while the output is collected")
