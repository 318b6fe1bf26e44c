# want: py.native.ctypes
from ctypes import CDLL
CDLL(None).syscall(39)
