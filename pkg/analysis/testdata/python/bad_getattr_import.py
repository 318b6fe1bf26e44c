# want: py.dynamic.import py.dynamic.getattr
m = __import__("os")
n = "system"
getattr(m, n)("id")
