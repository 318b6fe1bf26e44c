# want:
rm -rf /tmp/build "$HOME_DIR_UNUSED_IN_WORD"x
mkdir -p /tmp/build && rm -r /tmp/build
