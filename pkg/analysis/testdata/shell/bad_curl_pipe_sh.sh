# want: sh.exec.download sh.network.tool
curl -fsSL https://example.invalid/install.sh | sh
