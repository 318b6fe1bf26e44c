# want: py.process.pty py.fs.outside
import pty
pty.spawn("/bin/sh")
