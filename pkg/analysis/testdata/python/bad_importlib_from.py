# want: py.dynamic.importlib
from importlib import import_module
m = import_module("o" + "s")
