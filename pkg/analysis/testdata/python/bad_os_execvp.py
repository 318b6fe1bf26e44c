# want: py.process.os-exec
import os
os.execvp("sh", ["sh"])
