# want: py.process.subprocess
def helper():
    import subprocess
    return subprocess.getoutput("id")
