# want: py.fs.link
import os
os.link("/workspace/a", "/tmp/b")
