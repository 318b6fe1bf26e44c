# want: sh.disk.mkfs
mkfs.ext4 /dev/sda1
