# Fill /tmp and /output.
for d in sys.argv[1:]:
    written = 0
    try:
        with open(os.path.join(d, "selftest-fill"), "wb") as f:
            block = b"\0" * (1 << 20)
            while written < 8 << 30:
                f.write(block)
                f.flush()
                written += len(block)
    except OSError as e:
        contained("%s filled at %d MiB: %s" % (d, written >> 20, e.strerror))
        try:
            os.remove(os.path.join(d, "selftest-fill"))
        except OSError:
            pass
        continue
    escaped("wrote 8 GiB to " + d)
