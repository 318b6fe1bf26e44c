# Allocate, and touch, four times the memory limit.
chunks = []
for _ in range(4 * LIMIT_MEMORY // (16 << 20)):
    chunks.append(b"\x01" * (16 << 20))
escaped("allocated and touched %d MiB, past the limit of %d MiB" % (16 * len(chunks), LIMIT_MEMORY >> 20))
