# want:
system = "linux"
socket = {"host": "localhost"}
subprocess = None
print(system, socket, subprocess)
