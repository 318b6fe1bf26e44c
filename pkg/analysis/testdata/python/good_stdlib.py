# want:
import json, csv, re, os, sys
data = json.loads(sys.stdin.read() or "{}")
for p in os.listdir("/workspace"):
    print(p, os.path.getsize(os.path.join("/workspace", p)))
open("/output/report.json", "w").write(json.dumps(data))
open("/tmp/x", "w").write("1")
