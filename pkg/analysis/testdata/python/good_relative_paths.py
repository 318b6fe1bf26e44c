# want:
import os
print(os.path.join("data", "sample.txt"), os.getcwd())
