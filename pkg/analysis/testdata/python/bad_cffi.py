# want: py.native.cffi py.import.not-allowed
from cffi import FFI
FFI().dlopen(None)
