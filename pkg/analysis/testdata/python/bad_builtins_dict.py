# want: py.dynamic.builtins
__builtins__.__dict__["eval"]("1")
