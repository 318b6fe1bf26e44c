# want: py.process.subprocess
from subprocess import *
run(["ls"])
