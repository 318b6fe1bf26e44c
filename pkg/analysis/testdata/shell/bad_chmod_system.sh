# want: sh.fs.chmod-system
chmod 4755 /usr/bin/python3
