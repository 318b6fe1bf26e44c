# want: py.dynamic.builtins
import builtins
builtins.__dict__["ex" + "ec"]("print(1)")
