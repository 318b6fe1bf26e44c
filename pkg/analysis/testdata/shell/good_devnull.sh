# want:
command -v python3 >/dev/null 2>&1 || echo missing >&2
echo done > /dev/stderr
