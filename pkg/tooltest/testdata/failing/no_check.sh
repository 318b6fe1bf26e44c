#!/bin/sh
# A checker that refuses every run, saying why on stderr.
echo "the checker saw $(wc -c < /workspace/stdout) bytes and says no" >&2
exit 1
