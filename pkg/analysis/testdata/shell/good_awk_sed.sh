# want:
awk '/^#/ { next } { print $1 }' /workspace/in.txt
sed -e 's/\/usr\/bin/BIN/' /workspace/in.txt
