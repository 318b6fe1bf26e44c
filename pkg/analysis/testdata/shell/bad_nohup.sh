# want: sh.process.daemon
nohup sleep 1000 &
