# want:
dir=$(mktemp -d)
rm -rf "$dir"
rm -rf -- "${dir:?}/sub"
