# want: py.native.mmap
import mmap
mmap.mmap(-1, 4096)
