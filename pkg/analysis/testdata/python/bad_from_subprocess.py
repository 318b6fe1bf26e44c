# want: py.process.subprocess
from subprocess import check_output as co
co(["id"])
