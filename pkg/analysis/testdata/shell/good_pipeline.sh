# want:
set -eu
cat /workspace/data.txt | sort | uniq -c | sort -rn | head -n 5 > /output/top.txt
