# want: sh.dev.write
echo 0 > /dev/mem
