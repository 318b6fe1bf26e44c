# want: sh.rm.root
sudo -u root -- rm -rf /
