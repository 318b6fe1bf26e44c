# want: py.network.ftplib
from ftplib import FTP
FTP("127.0.0.1")
