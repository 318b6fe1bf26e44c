# want: py.native.ctypes
import ctypes
ctypes.CDLL(None)
