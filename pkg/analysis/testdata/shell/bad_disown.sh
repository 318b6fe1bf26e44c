# want: sh.process.daemon
sleep 1000 &
disown
