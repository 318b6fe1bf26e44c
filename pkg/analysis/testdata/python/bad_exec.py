# want: py.dynamic.exec
exec("print(1)")
