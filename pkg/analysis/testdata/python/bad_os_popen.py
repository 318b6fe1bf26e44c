# want: py.process.os-popen
import os
print(os.popen("id").read())
