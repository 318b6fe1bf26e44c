# want:
import json
import re

text = "eval(1) and exec(2)"
print(json.dumps(re.findall(r"\w+\(\d\)", text)))
