# A fork bomb: it must stop at the process limit and leave nothing.
b() { b | b & }
b
sleep 3
echo "TRIED a fork bomb"
