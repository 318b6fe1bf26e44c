# want: py.process.multiprocessing
from multiprocessing import Pool
Pool(4).map(str, range(3))
