# Learn what names the host machine: its machine id and its network
# interfaces' MAC addresses.
import glob
for path in ["/etc/machine-id", "/var/lib/dbus/machine-id", "/sys/class/dmi/id/product_uuid"] + glob.glob("/sys/class/net/*/address"):
    try:
        with open(path) as f:
            print(path + ":", f.read().strip())
        tried("read " + path)
    except OSError as e:
        tried("read %s: %s" % (path, e.strerror))
