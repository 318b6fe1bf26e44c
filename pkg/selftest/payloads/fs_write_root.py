# Write to /, /etc, /usr, /workspace and the tool's own directory.
for d in ("/", "/etc", "/usr/bin", "/workspace", os.path.dirname(os.path.abspath(sys.argv[0]))):
    def write(d=d):
        with open(os.path.join(d, "selftest-write"), "w") as f:
            f.write("x")
    refused("write to " + d, write)
