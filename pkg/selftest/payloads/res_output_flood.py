# Flood stdout and stderr far past the output cap.
line = b"x" * 1023 + b"\n"
out, err = sys.stdout.buffer, sys.stderr.buffer
for _ in range(64 * 1024):
    out.write(line)
    err.write(line)
