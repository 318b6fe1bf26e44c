# want: py.dynamic.globals
globals()["f"] = lambda: None
