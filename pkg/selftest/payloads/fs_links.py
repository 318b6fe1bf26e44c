# Leave links in /output that point at the host's secret, and a hard
# link to a file outside /output: sablebox must not follow them when it
# brings /output back to the host.
for name, fn in (("symlink", lambda: os.symlink(HOST_SECRET, "/output/secret-link")),
                 ("symlink to /etc/passwd", lambda: os.symlink("/etc/passwd", "/output/passwd-link")),
                 ("hard link to /etc/passwd", lambda: os.link("/etc/passwd", "/output/passwd-hard"))):
    try:
        fn()
    except OSError:
        pass
    tried(name)
