# want: py.network.urllib
from urllib.request import urlopen
urlopen("http://x")
