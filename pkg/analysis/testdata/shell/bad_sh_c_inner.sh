# want: sh.rm.root
sh -c "rm -rf /"
