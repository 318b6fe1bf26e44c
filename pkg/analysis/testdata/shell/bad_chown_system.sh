# want: sh.fs.chmod-system
chown -R nobody /etc
