package hostdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Loan is an output directory handed to a tool's identity for one run.
// Return gives its contents to the caller once the tool is gone.
type Loan struct {
	dir       string
	uid, gid  int // the caller's
	mode      fs.FileMode
	lent      bool // the directory was given to the tool's identity
	origOwner [2]int
}

// Lend prepares the output directory dir for a tool that runs as host
// uid and gid. When sablebox runs as root and the tool is someone else,
// the directory is given to the tool (mode 0700) for the run; otherwise
// it is left as it is (the process sandbox maps the tool to the caller).
func Lend(dir string, uid, gid int) (*Loan, error) {
	st, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	l := &Loan{dir: dir, uid: os.Geteuid(), gid: os.Getegid(), mode: st.Mode().Perm()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		l.origOwner = [2]int{int(sys.Uid), int(sys.Gid)}
	}
	if os.Geteuid() != 0 || uid == 0 {
		return l, nil
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("output: lend it to the sandbox user: %w", err)
	}
	l.lent = true
	if err := os.Chmod(dir, 0o700); err != nil {
		return l, fmt.Errorf("output: %w", errors.Join(err, l.restoreDir()))
	}
	return l, nil
}

// Return gives what the tool left in the directory to the caller, and
// says what it changed: every directory and regular file becomes the
// caller's (when sablebox is root) with its setuid, setgid and sticky bits
// cleared; symbolic links, FIFOs, sockets and device files are removed.
// It must run only once the tool and everything it started are gone:
// nothing then changes the tree under the walk, which follows no link.
func (l *Loan) Return() (notes []string, err error) {
	var removed, foreign []string
	var errs []error
	walkErr := filepath.WalkDir(l.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if path == l.dir {
			return nil
		}
		rel, _ := filepath.Rel(l.dir, path)
		info, err := d.Info()
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		mode := info.Mode()
		if !mode.IsRegular() && !mode.IsDir() {
			if err := os.Remove(path); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", rel, err))
			} else {
				removed = append(removed, rel+" ("+kind(mode)+")")
			}
			return nil
		}
		if l.uid == 0 {
			if err := os.Lchown(path, l.uid, l.gid); err != nil {
				errs = append(errs, fmt.Errorf("give %s to you: %w", rel, err))
			}
		} else if sys, ok := info.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != l.uid {
			foreign = append(foreign, rel)
			return nil
		}
		// Chmod with the permission bits alone clears setuid, setgid and sticky.
		if mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			if err := os.Chmod(path, mode.Perm()); err != nil {
				errs = append(errs, fmt.Errorf("clear %s's special bits: %w", rel, err))
			}
		}
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	if len(removed) > 0 {
		notes = append(notes, fmt.Sprintf("output: removed %s that %s not a file or directory: %s", entries(len(removed)), plural(len(removed), "is", "are"), list(removed)))
	}
	if len(foreign) > 0 {
		notes = append(notes, fmt.Sprintf("output: %s %s to the sandbox user, not to you (sablebox gives them to you only when it runs as root): %s",
			entries(len(foreign)), plural(len(foreign), "belongs", "belong"), list(foreign)))
	}
	if err := l.restoreDir(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return notes, fmt.Errorf("output %s: %w", l.dir, errors.Join(errs...))
	}
	return notes, nil
}

// restoreDir gives the directory itself back as it was.
func (l *Loan) restoreDir() error {
	if !l.lent {
		return nil
	}
	l.lent = false
	return errors.Join(os.Lchown(l.dir, l.origOwner[0], l.origOwner[1]), os.Chmod(l.dir, l.mode))
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "link"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "other"
}

func entries(n int) string { return fmt.Sprintf("%d %s", n, plural(n, "entry", "entries")) }

// plural is one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// list names up to five paths.
func list(paths []string) string {
	if len(paths) > 5 {
		return fmt.Sprintf("%v and %d more", paths[:5], len(paths)-5)
	}
	return fmt.Sprint(paths)
}
