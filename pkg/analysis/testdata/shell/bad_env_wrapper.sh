# want: sh.network.tool
env -i PATH=/bin timeout 5 curl https://example.invalid
