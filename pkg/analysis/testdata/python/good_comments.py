# want:
# import subprocess; subprocess.run("rm -rf /")
# eval(input())
x = 1  # os.system("id")
print(x)
