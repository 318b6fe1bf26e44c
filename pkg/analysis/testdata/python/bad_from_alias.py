# want: py.process.os-system
from os import system as s
s("id")
