"""Summarise JSON records: read a list of objects from stdin (or a sample),
group them by a key and print totals as JSON."""
import json
import sys
from collections import defaultdict

SAMPLE = [{"team": "red", "points": 3}, {"team": "blue", "points": 5}, {"team": "red", "points": 4}]

data = sys.stdin.read()
records = json.loads(data) if data.strip() else SAMPLE
totals = defaultdict(int)
for r in records:
    totals[r["team"]] += r["points"]
print(json.dumps({"teams": dict(sorted(totals.items())), "records": len(records)}, sort_keys=True))
