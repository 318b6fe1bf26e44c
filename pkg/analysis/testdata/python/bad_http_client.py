# want: py.network.http-client
import http.client
