# want: py.process.os-system
import os
def f(:
    pass
os.system("x")
