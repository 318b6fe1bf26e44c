# want:
name = "x"
print(f"{name} would call os.system and eval here")
