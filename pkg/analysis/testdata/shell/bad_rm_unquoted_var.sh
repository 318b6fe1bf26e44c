# want: sh.rm.root
dir=$1
rm -rf $dir
