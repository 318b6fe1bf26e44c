# want: sh.fs.outside
cat /etc/shadow
