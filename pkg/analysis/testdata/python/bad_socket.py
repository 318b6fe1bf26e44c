# want: py.network.socket
import socket
socket.create_connection(("example.com", 80))
