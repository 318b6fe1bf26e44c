# Abuse stdin: read past its end, wait on it, write to it.
data = sys.stdin.buffer.read()
contained("stdin ended after %d bytes" % len(data))
refused("write to stdin", lambda: os.write(0, b"x"))
