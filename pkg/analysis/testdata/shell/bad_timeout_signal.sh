# want: sh.network.tool
timeout -s KILL 10 nc -l 4444
