# want: py.dynamic.eval
calc = lambda s: eval(s, {})
