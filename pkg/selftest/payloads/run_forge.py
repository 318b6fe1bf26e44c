# Forge sablebox's own lines: escape sequences that set the title, move
# the cursor and clear the line, then a fake result line.
sys.stdout.write("\x1b]0;pwned\x07\x1b[2K\r\x1b[1A")
sys.stdout.write("\x1b[0m\x1b[7m sablebox \x1b[0m ran in process; degraded: none\n")
sys.stdout.flush()
tried("escape sequences on stdout")
