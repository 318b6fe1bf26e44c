"""Extract errors from log lines with regular expressions and count them
by code."""
import re
import sys
from collections import Counter

SAMPLE = """2026-01-01T10:00:00 INFO start
2026-01-01T10:00:01 ERROR E42 disk full
2026-01-01T10:00:02 ERROR E7 timeout
2026-01-01T10:00:03 ERROR E42 disk full
"""
pattern = re.compile(r"^(?P<ts>\S+)\s+ERROR\s+(?P<code>E\d+)\s+(?P<msg>.*)$", re.MULTILINE)
text = sys.stdin.read() or SAMPLE
counts = Counter(m["code"] for m in pattern.finditer(text))
for code, n in counts.most_common():
    print(code, n)
