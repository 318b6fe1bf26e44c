# want: py.import.not-allowed
import numpy as np
print(np.zeros(3))
