# want: py.network.socket
from socket import create_connection
create_connection(("127.0.0.1", 1))
