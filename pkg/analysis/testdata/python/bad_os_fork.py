# want: py.process.os-fork
import os
if os.fork() == 0:
    pass
