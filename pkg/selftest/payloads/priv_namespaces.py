# New namespaces and mounts: unshare, a user namespace, mount, chroot.
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000


def unshare(flags):
    def do():
        if libc.unshare(flags) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    return do


refused("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER))
refused("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS))
refused("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET))
def mount():
    if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    libc.umount(b"/tmp")
refused("mount a tmpfs", mount)
refused("chroot", lambda: os.chroot("/tmp"))
