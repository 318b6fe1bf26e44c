# want: sh.rm.root
rm -r -f "/"
