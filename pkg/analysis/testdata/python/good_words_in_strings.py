# want:
"""This docstring mentions os.system, eval() and subprocess."""
# os.system("rm -rf /") in a comment
msg = "call eval(x) or exec(y)"
print(msg, "subprocess.run")
