# want: py.dynamic.importlib
import importlib
importlib.import_module("os")
