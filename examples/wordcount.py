"""Count words: a small, real tool of the kind an agent writes.

Reads text from stdin, or from every .txt file in /workspace when stdin is
empty; prints the most common words; writes a JSON report to /output when
that directory is writable.

    sablebox run examples/wordcount.py -- --top 3 < examples/data/sample.txt
    sablebox run --workspace examples/data --output ./out examples/wordcount.py
"""
import argparse
import collections
import json
import os
import re
import sys


def texts():
    data = sys.stdin.read()
    if data:
        yield "stdin", data
        return
    if os.path.isdir("/workspace"):
        for name in sorted(os.listdir("/workspace")):
            if name.endswith(".txt"):
                with open(os.path.join("/workspace", name), encoding="utf-8") as f:
                    yield name, f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=5, help="how many words to show")
    args = parser.parse_args()

    counts = collections.Counter()
    sources = []
    for name, text in texts():
        sources.append(name)
        counts.update(w.lower() for w in re.findall(r"[A-Za-z']+", text))
    if not sources:
        print("no input: pipe text on stdin or give --workspace with .txt files", file=sys.stderr)
        return 2

    for word, n in counts.most_common(args.top):
        print(f"{n:6d} {word}")

    if os.access("/output", os.W_OK):
        report = {"sources": sources, "words": sum(counts.values()), "top": counts.most_common(args.top)}
        with open("/output/wordcount.json", "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
        print("report written to /output/wordcount.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
