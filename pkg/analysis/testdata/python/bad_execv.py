# want: py.process.os-exec py.fs.outside
import os
os.execv("/bin/sh", ["sh"])
