# want: py.dynamic.builtins py.dynamic.getattr
f = getattr(__builtins__, "ev" + "al")
f("1+1")
