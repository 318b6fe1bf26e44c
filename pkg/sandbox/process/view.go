package process

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
)

// What a tool sees of the host in the process sandbox, bound read-only at
// the same paths (the README lists it): programs, shared libraries, the
// interpreter's standard library, and a few data files. Nothing else of
// the host is there: not /usr/local, /usr/share (but its time zones),
// /usr/include, /usr/src, /usr/sbin, the rest of /usr/lib, /etc (but the
// files below), /home, /root, /opt, /srv, /var or /boot.
var (
	// viewDirs are bound when present.
	viewDirs = []string{
		"/usr/bin", "/bin", // programs: the interpreters and what a shell script calls
		"/usr/lib/" + multiarch(), "/lib/" + multiarch(), // shared libraries
		"/usr/lib64", "/lib64", // the dynamic loader
		"/usr/lib/locale/C.utf8", // the C.UTF-8 locale
		"/usr/share/zoneinfo",    // time zones
		"/etc/alternatives",      // the links that name a program's chosen version (awk)
	}
	// viewFiles are the few /etc files libc and Python read.
	viewFiles = []string{
		"/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
		"/etc/hosts", "/etc/host.conf", "/etc/mime.types",
	}
)

// multiarch is the Debian multiarch triplet of this machine's libraries.
func multiarch() string {
	switch runtime.GOARCH {
	case "arm64":
		return "aarch64-linux-gnu"
	case "386":
		return "i386-linux-gnu"
	default:
		return "x86_64-linux-gnu"
	}
}

var pythonNameRE = regexp.MustCompile(`^python3\.\d+$`)

// hostView returns the host paths the tool sees, each bound read-only at
// the same path: whichever of the fixed view above exists, at its real
// path (the top-level links, such as /bin on merged /usr, are copied into
// the new root as links), and the standard library of the interpreter
// python ("" for none).
func hostView(python string) []string {
	var view []string
	seen := map[string]bool{}
	add := func(p string, dir bool) {
		at := p
		if dir { // a directory is bound where it really is; a file where it is named (/etc/localtime is a link)
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				return
			}
			at = real
		}
		if st, err := os.Stat(at); err != nil || st.IsDir() != dir || seen[at] {
			return
		}
		seen[at] = true
		view = append(view, at)
	}
	for _, d := range viewDirs {
		add(d, true)
	}
	for _, f := range viewFiles {
		add(f, false)
	}
	if real, err := filepath.EvalSymlinks(python); err == nil {
		python = real // /usr/bin/python3 -> /usr/bin/python3.11
	}
	if base := filepath.Base(python); python != "" && pythonNameRE.MatchString(base) {
		add(filepath.Join(filepath.Dir(filepath.Dir(python)), "lib", base), true) // /usr/lib/python3.11
		add(filepath.Join("/etc", base), true)                                    // Debian's sitecustomize
	}
	return view
}
