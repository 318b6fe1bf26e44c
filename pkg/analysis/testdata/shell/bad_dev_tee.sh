# want: sh.dev.write
printf x | tee /dev/sdb >/dev/null
