# want: sh.rm.root
rm -rf "$STEAMROOT"/*
