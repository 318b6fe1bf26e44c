# Fill /tmp and /output, each up to 16 MiB past its bound.
for d in sys.argv[1:]:
    bound = (LIMIT_OUTPUT if d == "/output" else LIMIT_TMP) + (16 << 20)
    path = os.path.join(d, "selftest-fill")
    written = 0
    try:
        with open(path, "wb") as f:
            block = b"\0" * (1 << 20)
            while written < bound:
                f.write(block)
                f.flush()
                written += len(block)
    except OSError as e:
        contained("%s filled at %d MiB: %s" % (d, written >> 20, e.strerror))
    else:
        escaped("wrote %d MiB to %s, past its bound" % (written >> 20, d))
    try:
        os.remove(path)
    except OSError:
        pass
