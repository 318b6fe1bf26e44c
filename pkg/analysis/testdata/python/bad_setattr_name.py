# want: py.dynamic.getattr
import json
name = input()
setattr(json, name, None)
