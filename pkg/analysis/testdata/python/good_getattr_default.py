# want:
import json
dump = getattr(json, "dumps", None)
print(hasattr(json, "loads"), dump({"a": 1}))
