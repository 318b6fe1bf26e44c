# want: py.fs.dotdot
import os
print(os.path.join("/workspace", "../../etc/passwd"))
