package sandbox

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// File is one file a request carries by content, not by host path: the
// service, the pool, skills and remote engines all hand files over this
// way.
type File struct {
	// Path is where the file goes, relative to its directory ("data/a.csv").
	Path string
	// Content is the file's bytes.
	Content []byte
	// Executable marks a file the tool may run (mode 0555, else 0444).
	Executable bool
}

// Mode is the file's mode inside the sandbox: read-only, root-owned.
func (f File) Mode() fs.FileMode {
	if f.Executable {
		return 0o555
	}
	return 0o444
}

// Bounds of the files one run may carry.
const (
	MaxFiles     = 1000
	MaxFileBytes = 64 << 20 // in all
	maxPathBytes = 1024
)

// validateFiles checks files as one set: each a clean relative path with
// no "..", none twice, none a directory of another, and the set within
// MaxFiles and MaxFileBytes.
func validateFiles(what string, files []File) error {
	if len(files) > MaxFiles {
		return fmt.Errorf("%s: %d files; the limit is %d", what, len(files), MaxFiles)
	}
	var total int64
	seen := map[string]bool{}
	for _, f := range files {
		switch {
		case f.Path == "" || len(f.Path) > maxPathBytes:
			return fmt.Errorf("%s: a file path must have 1 to %d bytes", what, maxPathBytes)
		case strings.ContainsRune(f.Path, 0):
			return fmt.Errorf("%s: file path %q contains a NUL byte", what, f.Path)
		case path.IsAbs(f.Path) || !fs.ValidPath(f.Path) || f.Path == ".":
			return fmt.Errorf("%s: file path %q: want a clean relative path with no \"..\"", what, f.Path)
		case seen[f.Path]:
			return fmt.Errorf("%s: file path %q is given twice", what, f.Path)
		}
		seen[f.Path] = true
		total += int64(len(f.Content))
	}
	for p := range seen {
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if seen[dir] {
				return fmt.Errorf("%s: %q is a file and also the directory of %q", what, dir, p)
			}
		}
	}
	if total > MaxFileBytes {
		return fmt.Errorf("%s: %d bytes in all; the limit is %d", what, total, MaxFileBytes)
	}
	return nil
}
