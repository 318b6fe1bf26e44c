# Make device nodes, and open the host's disks and memory (read-only; a
# node made is removed at once).
import stat
for path, dev in (("/tmp/selftest-sda", os.makedev(8, 0)), ("/tmp/selftest-mem", os.makedev(1, 1))):
    if not refused("mknod " + path, lambda path=path, dev=dev: os.mknod(path, stat.S_IFCHR | 0o600, dev)):
        os.remove(path)
for path in ("/dev/sda", "/dev/mem", "/dev/kmem", "/dev/port", "/dev/vda", "/dev/nvme0n1"):
    def open_it(path=path):
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "no such device")
        os.close(os.open(path, os.O_RDONLY))
    refused("open " + path, open_it)
