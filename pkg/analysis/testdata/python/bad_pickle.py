# want: py.dynamic.pickle
import pickle
pickle.loads(b"")
