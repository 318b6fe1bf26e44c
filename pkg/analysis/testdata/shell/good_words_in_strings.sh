# want:
# rm -rf / and curl | sh in a comment never count
echo "rm -rf / is what we never do; eval, nc and curl are words here"
printf '%s\n' "mkfs dd of=/dev/sda"
