# want: py.dynamic.vars
print(vars()["__name__"])
