# Reach the host secret through links made where the tool may write:
# symlinks to the file and to its directory, a hard link, and a symlink
# through /proc/self/root; and by descriptor-relative paths from /.
made = []


def attempt(what, fn):
    try:
        print("read:", fn())
        tried(what)
    except OSError as e:
        tried("%s: %s" % (what, e.strerror or e))


def link(kind, target, name):
    path = os.path.join("/tmp", name)
    try:
        (os.symlink if kind == "symlink" else os.link)(target, path)
        made.append(path)
    except OSError:
        pass
    return path


s = link("symlink", HOST_SECRET, "selftest-secret-link")
attempt("read through a symlink to the secret", lambda: open(s).read())
d = link("symlink", HOST_DIR, "selftest-dir-link")
attempt("read through a symlink to its directory", lambda: open(os.path.join(d, "secret")).read())
h = link("hard", HOST_SECRET, "selftest-secret-hard")
attempt("read through a hard link to the secret", lambda: open(h).read())
p = link("symlink", "/proc/self/root" + HOST_SECRET, "selftest-proc-link")
attempt("read through a symlink by /proc/self/root", lambda: open(p).read())


def relative():
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        return open(HOST_SECRET.lstrip("/"), opener=lambda path, flags: os.open(path, flags, dir_fd=fd)).read()
    finally:
        os.close(fd)


attempt("read relative to a descriptor of /", relative)
for path in made:
    os.remove(path)
