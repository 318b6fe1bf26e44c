# want: py.process.os-system
import os
os.system("ls")
