# want: py.network.http-client
from http.client import HTTPConnection as H
H("127.0.0.1").request("GET", "/")
