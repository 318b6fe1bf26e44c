# want: sh.rm.root
rm --recursive --force "$HOME"
