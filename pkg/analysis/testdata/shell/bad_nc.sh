# want: sh.network.tool
nc -l -p 4444
