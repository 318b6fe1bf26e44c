# want: py.dynamic.import
m = __import__("o" + "s")
