# want: py.fs.symlink
import os
os.symlink("/tmp/a", "/tmp/b")
