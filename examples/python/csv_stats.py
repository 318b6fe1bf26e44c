"""Column statistics of a CSV file: /workspace/*.csv when there is one,
else a sample written to /tmp and read back."""
import csv
import glob
import os
import statistics
import tempfile

paths = sorted(glob.glob("/workspace/*.csv"))
if not paths:
    fd, path = tempfile.mkstemp(suffix=".csv", dir="/tmp")
    with os.fdopen(fd, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "score"])
        for i, name in enumerate(["ada", "bob", "cy", "dee"]):
            w.writerow([name, 10 + i * 3])
    paths = [path]
for path in paths:
    with open(path, newline="") as f:
        scores = [float(row["score"]) for row in csv.DictReader(f)]
    print(f"{os.path.basename(path) if paths[0].startswith('/workspace') else 'sample'}: "
          f"n={len(scores)} mean={statistics.mean(scores):.2f} stdev={statistics.stdev(scores):.2f}")
