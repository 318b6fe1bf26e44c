# want: py.process.os-spawn
from os import posix_spawnp
posix_spawnp("sh", ["sh"], {})
