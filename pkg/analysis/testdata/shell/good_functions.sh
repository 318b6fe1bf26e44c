# want:
count() { wc -l < "$1"; }
for f in /workspace/*.txt; do
  printf "%s %s\n" "$f" "$(count "$f")"
done
