# want: py.process.subprocess
import subprocess as sp
sp.Popen(["id"])
