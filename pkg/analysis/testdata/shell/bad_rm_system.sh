# want: sh.rm.system
rm -rf /usr/lib
