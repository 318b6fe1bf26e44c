# want: sh.process.daemon
setsid -f sleep 1000
