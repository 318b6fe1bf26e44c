# want: sh.network.tool
/usr/bin/ssh user@host.invalid true
