# want: py.process.subprocess
import subprocess
subprocess.run(["id"], check=True)
