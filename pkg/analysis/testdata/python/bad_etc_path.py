# want: py.fs.outside
print(open("/etc/passwd").read())
