# Leave a child running after the tool exits: detached with setsid and
# a double fork, named so that the host can find it.
leave_child()
tried("a detached child left behind")
