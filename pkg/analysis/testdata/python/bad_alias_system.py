# want: py.process.os-system
import os as o
o.system("id")
