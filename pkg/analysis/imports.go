package analysis

import "strings"

// DefaultImports are the top-level modules a tool may import when the
// config names none: CPython 3.11's standard library (the image's), as
// sys.stdlib_module_names lists it, less the private modules and those a
// tool has no use for (GUIs, installers, Windows-only modules, jokes).
// The dangerous ones among them are findings of their own rules.
var DefaultImports = strings.Fields(`
abc aifc argparse array ast asynchat asyncio asyncore atexit audioop base64 bdb binascii bisect 
builtins bz2 cProfile calendar cgi cgitb chunk cmath cmd code codecs codeop collections 
colorsys compileall concurrent configparser contextlib contextvars copy copyreg crypt csv 
ctypes curses dataclasses datetime dbm decimal difflib dis doctest email encodings enum errno 
faulthandler fcntl filecmp fileinput fnmatch fractions ftplib functools gc genericpath getopt 
getpass gettext glob graphlib grp gzip hashlib heapq hmac html http imaplib imghdr imp 
importlib inspect io ipaddress itertools json keyword linecache locale logging lzma mailbox 
mailcap marshal math mimetypes mmap modulefinder multiprocessing netrc nis nntplib numbers 
opcode operator optparse os ossaudiodev pathlib pdb pickle pickletools pipes pkgutil platform 
plistlib poplib posix posixpath pprint profile pstats pty pwd py_compile pyclbr pydoc pyexpat 
queue quopri random re readline reprlib resource rlcompleter runpy sched secrets select 
selectors shelve shlex shutil signal site smtpd smtplib sndhdr socket socketserver spwd sqlite3 
sre_compile sre_constants sre_parse ssl stat statistics string stringprep struct subprocess 
sunau symtable sys sysconfig syslog tabnanny tarfile telnetlib tempfile termios textwrap 
threading time timeit token tokenize tomllib trace traceback tracemalloc tty types typing 
unicodedata unittest urllib uu uuid warnings wave weakref webbrowser wsgiref xdrlib xml xmlrpc 
zipapp zipfile zipimport zlib zoneinfo
`)
