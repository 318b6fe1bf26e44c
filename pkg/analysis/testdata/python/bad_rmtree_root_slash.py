# want: py.fs.rmtree-root py.fs.outside
from shutil import rmtree
rmtree("//")
