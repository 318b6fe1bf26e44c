# want: py.dynamic.compile
code = compile("print(1)", "<x>", "exec")
