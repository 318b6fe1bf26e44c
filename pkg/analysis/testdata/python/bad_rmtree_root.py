# want: py.fs.rmtree-root
import shutil
shutil.rmtree("/")
