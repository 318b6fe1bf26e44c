// Package hostdir decides which host directories may be handed to a tool:
// a workspace it reads and an output directory it writes. Both are host
// paths that untrusted code reaches, so the rules refuse the root, the
// system's own directories, the shared top-level directories and the
// caller's home itself; an output directory must moreover be new, or
// empty and the caller's.
//
// The rules, as the README states them:
//
//   - A path is resolved first (symlinks included), and the rules apply to
//     where it leads: a symlink to /etc is /etc.
//   - Never /, nor a system directory or anything inside one: /bin, /boot,
//     /dev, /etc, /lib, /lib32, /lib64, /libx32, /proc, /run, /sbin, /snap,
//     /sys, /usr and /var (except below /var/tmp).
//   - Never a shared top-level directory itself: /home, /media, /mnt, /opt,
//     /root, /srv, /tmp, /var/tmp. A directory below one is fine.
//   - Never the caller's home directory itself, nor a directory above it:
//     a tool would see (or write) ~/.ssh and the rest. A directory below
//     it is fine.
//   - An output directory that exists must be empty and owned by the
//     caller: a tool must not read or overwrite what is already there, nor
//     write into someone else's directory. One that is missing is created,
//     mode 0700, by the caller.
package hostdir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// systemDirs are refused, and so is everything inside them.
var systemDirs = []string{
	"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
	"/proc", "/run", "/sbin", "/snap", "/sys", "/usr", "/var",
}

// allowedInside are the exceptions to systemDirs: directories below these
// are fine (the directory itself is a shared one, refused below).
var allowedInside = []string{"/var/tmp"}

// sharedDirs are refused themselves; directories below them are fine.
var sharedDirs = []string{"/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var/tmp"}

// ErrUnsafe is wrapped by every refusal of a directory by these rules.
var ErrUnsafe = errors.New("unsafe host directory")

// CheckPath applies the rules that need no file system to an absolute,
// resolved path: not /, not a system or shared directory, not home (the
// caller's home directory, or "" for none) or above it. what names the
// directory in the error ("output").
func CheckPath(what, path, home string) error {
	refuse := func(why string) error {
		return fmt.Errorf("%w: %s %s %s; choose a directory of your own, such as ./out", ErrUnsafe, what, path, why)
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s %s: want an absolute path", what, path)
	}
	clean := filepath.Clean(path)
	if clean == "/" {
		return refuse("is the root of the host's file system")
	}
	for _, d := range sharedDirs {
		if clean == d {
			return refuse("is a directory that the whole system shares")
		}
	}
	inside := func(dir string) bool { return clean == dir || strings.HasPrefix(clean, dir+"/") }
	for _, d := range systemDirs {
		if !inside(d) {
			continue
		}
		allowed := false
		for _, a := range allowedInside {
			allowed = allowed || strings.HasPrefix(clean, a+"/")
		}
		if !allowed {
			return refuse("is " + relation(clean, d) + " a system directory")
		}
	}
	if home != "" {
		home = filepath.Clean(home)
		if clean == home || strings.HasPrefix(home, clean+"/") {
			return refuse("is your home directory or holds it (a tool would reach ~/.ssh and the rest)")
		}
	}
	return nil
}

func relation(path, dir string) string {
	if path == dir {
		return "(" + dir + ")"
	}
	return "inside " + dir + ","
}

// Workspace resolves path and checks it as a directory a tool reads. It
// returns the resolved, absolute path.
func Workspace(path string) (string, error) {
	abs, err := resolve(path)
	if err != nil {
		return "", fmt.Errorf("workspace %s: %w", path, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", fmt.Errorf("workspace %s is not a directory", path)
	}
	if err := CheckPath("workspace", abs, callerHome()); err != nil {
		return "", err
	}
	return abs, nil
}

// Output resolves path and checks it as a directory a tool writes,
// creating it (mode 0700) when it is missing. It returns the resolved,
// absolute path and whether it was created.
func Output(path string) (dir string, created bool, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false, fmt.Errorf("output %s: %w", path, err)
	}
	if _, err := os.Lstat(abs); errors.Is(err, os.ErrNotExist) {
		// Check where it would be before making anything there.
		parent, err := resolveExisting(filepath.Dir(abs))
		if err != nil {
			return "", false, fmt.Errorf("output %s: %w", path, err)
		}
		target := filepath.Join(parent, filepath.Base(abs))
		if err := CheckPath("output", target, callerHome()); err != nil {
			return "", false, err
		}
		if err := os.MkdirAll(target, 0o700); err != nil {
			return "", false, fmt.Errorf("output: %w", err)
		}
		created = true
	}
	if abs, err = resolve(abs); err != nil {
		return "", false, fmt.Errorf("output %s: %w", path, err)
	}
	if err := CheckPath("output", abs, callerHome()); err != nil {
		return "", false, err
	}
	st, err := os.Stat(abs)
	if err != nil || !st.IsDir() {
		return "", false, fmt.Errorf("output %s is not a directory", path)
	}
	if created {
		return abs, true, nil
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return "", false, fmt.Errorf("%w: output %s belongs to uid %d, not to you (uid %d); give a new directory, which sablebox creates",
			ErrUnsafe, path, sys.Uid, os.Geteuid())
	}
	empty, err := isEmpty(abs)
	if err != nil {
		return "", false, fmt.Errorf("output: %w", err)
	}
	if !empty {
		return "", false, fmt.Errorf("%w: output %s is not empty (a tool could read or overwrite what is there); give a new or empty directory",
			ErrUnsafe, path)
	}
	return abs, false, nil
}

// resolve makes path absolute and follows its symlinks.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// resolveExisting resolves the nearest existing ancestor of path and
// joins the rest to it.
func resolveExisting(path string) (string, error) {
	var rest []string
	for {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(path)
		if parent == path {
			return "", fmt.Errorf("%s: no existing parent", path)
		}
		rest = append([]string{filepath.Base(path)}, rest...)
		path = parent
	}
}

func isEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// callerHome is the caller's home directory, resolved, or "" when it has
// none.
func callerHome() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	if real, err := filepath.EvalSymlinks(home); err == nil {
		return real
	}
	return home
}

// Allowed is a list of directories on this host that requests may name
// (each with everything below it), resolved: what a service whose callers
// are not trusted allows of its host, by its operator's choice.
type Allowed []string

// NewAllowed resolves dirs, which must exist and be directories.
func NewAllowed(dirs []string) (Allowed, error) {
	out := Allowed{}
	for _, d := range dirs {
		abs, err := resolve(d)
		if err != nil {
			return nil, fmt.Errorf("allowed host directory %s: %w", d, err)
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("allowed host directory %s is not a directory", d)
		}
		out = append(out, abs)
	}
	return out, nil
}

// Check refuses path (wrapping ErrUnsafe) unless it lies within one of
// the allowed directories once resolved as far as it exists, so that a
// symlink cannot lead out of them. The what names it ("workspace").
func (a Allowed) Check(what, path string) error {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = resolveExisting(abs)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	for _, dir := range a {
		if abs == dir || strings.HasPrefix(abs, dir+string(filepath.Separator)) {
			return nil
		}
	}
	if len(a) == 0 {
		return fmt.Errorf("%w: %s %s: this sablebox takes no host directories: send the files instead", ErrUnsafe, what, path)
	}
	return fmt.Errorf("%w: %s %s is not within the host directories allowed here (%s)", ErrUnsafe, what, path, strings.Join(a, ", "))
}
