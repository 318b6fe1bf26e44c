# want: py.fs.outside
print(open("/etc/shadow").read())
