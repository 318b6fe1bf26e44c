#!/bin/sh
# Count the lines, words and bytes on stdin, and name the busiest line.
# Run it: sablebox run examples/lines.sh < examples/data/sample.txt
set -eu
input=$(cat)
printf '%s\n' "$input" | wc -l | sed 's/^ */lines: /'
printf '%s\n' "$input" | wc -w | sed 's/^ */words: /'
printf '%s\n' "$input" | awk '{ if (NF > max) { max = NF; line = $0 } } END { print "longest: " line }'
