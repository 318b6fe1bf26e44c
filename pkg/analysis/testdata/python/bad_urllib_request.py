# want: py.network.urllib
from urllib.request import urlopen
urlopen("http://127.0.0.1:1/").read()
