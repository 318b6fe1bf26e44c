"""The checker of wordcount.test.yaml's report case: `sablebox test` runs it
in a sandbox of its own, with the case's stdout, stderr, result.json and
output/ in /workspace. Exit 0 passes the case."""
import json
import sys

with open("/workspace/result.json") as f:
    result = json.load(f)
with open("/workspace/output/wordcount.json") as f:
    report = json.load(f)
with open("/workspace/stdout") as f:
    printed = f.read().split()

problems = []
if result["status"] != "ok":
    problems.append("status %s" % result["status"])
if report["words"] != sum(n for _, n in report["top"]):
    problems.append("the report's words and top disagree")
if printed[1::2] != [w for w, _ in report["top"]]:
    problems.append("stdout and the report name different words")
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
