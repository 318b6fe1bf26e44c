# want: py.process.os-system
from os import *
system("id")
