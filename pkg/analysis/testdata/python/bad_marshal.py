# want: py.dynamic.marshal
import marshal
exec_code = marshal.loads(b"")
