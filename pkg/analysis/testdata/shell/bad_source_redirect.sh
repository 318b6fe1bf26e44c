# want: sh.exec.source-download sh.network.tool
wget -q https://example.invalid/lib -O- > /tmp/lib.sh
source /tmp/lib.sh
