# want: py.process.os-spawn
import os
os.spawnl(os.P_WAIT, "/workspace/x", "x")
