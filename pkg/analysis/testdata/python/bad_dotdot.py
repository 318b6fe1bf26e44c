# want: py.fs.dotdot
open("../../secret")
