# Write into the host's directory by its host path, and through / paths.
for target in (os.path.join(HOST_DIR, "escaped"), os.path.join(HOST_DIR, "..", os.path.basename(HOST_DIR), "escaped2")):
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write("escaped\n")
    except OSError as e:
        pass
    tried("write " + target)
