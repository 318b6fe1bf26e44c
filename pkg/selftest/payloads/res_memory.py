# Allocate far past the memory limit.
chunks = []
for _ in range(4096):
    chunks.append(bytearray(16 << 20))
escaped("allocated %d MiB" % (16 * len(chunks)))
