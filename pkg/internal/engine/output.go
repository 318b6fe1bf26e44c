package engine

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Collected gathers what a tool left in /output, as it comes back to the
// caller: regular files only, by content, within sandbox.MaxFiles and
// sandbox.MaxFileBytes. What it leaves out it names in Notes.
type Collected struct {
	Files   []sandbox.File
	bytes   int64
	special map[string][]string // kind: paths not returned
	dropped int                 // regular files beyond the bounds
}

// Add takes one entry of the output tree at rel (a clean relative path),
// of mode, reading a regular file's size bytes from r.
func (c *Collected) Add(rel string, mode fs.FileMode, size int64, r io.Reader) error {
	switch {
	case mode.IsDir():
		return nil
	case !mode.IsRegular():
		c.Skip(kindOf(mode), rel)
		return nil
	case !fs.ValidPath(rel) || rel == ".":
		c.Skip("unsafe path", rel)
		return nil
	case len(c.Files) >= sandbox.MaxFiles || c.bytes+size > sandbox.MaxFileBytes:
		c.dropped++
		return nil
	}
	content := make([]byte, size)
	if _, err := io.ReadFull(r, content); err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	c.bytes += size
	c.Files = append(c.Files, sandbox.File{Path: rel, Content: content, Executable: mode&0o111 != 0})
	return nil
}

// content is the content of the file collected at rel.
func (c *Collected) content(rel string) ([]byte, bool) {
	for _, f := range c.Files {
		if f.Path == rel {
			return f.Content, true
		}
	}
	return nil, false
}

// Skip notes that rel, of kind, does not come back.
func (c *Collected) Skip(kind, rel string) {
	if c.special == nil {
		c.special = map[string][]string{}
	}
	c.special[kind] = append(c.special[kind], rel)
}

func kindOf(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		return "symlink"
	case mode&fs.ModeNamedPipe != 0:
		return "fifo"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeDevice != 0:
		return "device"
	default:
		return "special file"
	}
}

// fullSlack is how close to sandbox.MaxFileBytes the files' bytes come
// when an output tmpfs of that size is full: its own blocks and
// directories take the rest.
const fullSlack = 1 << 20

// Notes say what the caller does not get back, and why.
func (c *Collected) Notes() []string {
	var notes []string
	if len(c.special) > 0 {
		var names []string
		for kind, paths := range c.special {
			for _, p := range paths {
				names = append(names, fmt.Sprintf("%s (%s)", p, kind))
			}
		}
		sort.Strings(names)
		notes = append(notes, "output: only regular files come back; not returned: "+strings.Join(names, ", "))
	}
	if c.dropped == 0 && c.bytes > sandbox.MaxFileBytes-fullSlack {
		// An output tmpfs of MaxFileBytes (Docker's) refuses writes
		// beyond it before anything is dropped here.
		notes = append(notes, fmt.Sprintf("output: /output is full: its bound is %d MiB in all, and the tool's writes beyond it failed",
			sandbox.MaxFileBytes>>20))
	}
	if c.dropped > 0 {
		notes = append(notes, fmt.Sprintf("output: %d more files were not returned: the bound is %d files and %d MiB in all",
			c.dropped, sandbox.MaxFiles, sandbox.MaxFileBytes>>20))
	}
	return notes
}

// ReadArchive collects the output from a tar of the output directory, as
// an engine's archive API gives it: a first entry for the directory itself
// ("output/" from Docker, "/" from Podman), then what is in it, named
// under that entry.
func ReadArchive(r io.Reader) (*Collected, error) {
	c := &Collected{}
	tr := tar.NewReader(r)
	top := ""
	for first := true; ; first = false {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("read the output archive: %w", err)
		}
		name := path.Clean("/" + h.Name)
		if first && h.Typeflag == tar.TypeDir {
			top = strings.TrimSuffix(name, "/") + "/"
			continue
		}
		rel, ok := strings.CutPrefix(name, top)
		if !ok || rel == "" {
			c.Skip("outside the output directory", h.Name)
			continue
		}
		if h.Typeflag == tar.TypeLink {
			// A second name of a file already read: the file again, by
			// content. A link to anything else is not the tool's to give.
			target, inside := strings.CutPrefix(path.Clean("/"+h.Linkname), top)
			content, known := c.content(target)
			if !inside || !known {
				c.Skip("hard link", rel)
				continue
			}
			if err := c.Add(rel, h.FileInfo().Mode()&^fs.ModeType, int64(len(content)), bytes.NewReader(content)); err != nil {
				return c, err
			}
			continue
		}
		if err := c.Add(rel, h.FileInfo().Mode(), h.Size, tr); err != nil {
			return c, err
		}
	}
}

// CollectDir collects the files under dir, as Collected.Add takes them,
// without following a link (os.Root keeps every path inside dir). What
// cannot be read (a tool's mode 000) is named, not fatal.
func CollectDir(dir string) (*Collected, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	defer root.Close()
	c := &Collected{}
	unreadable := func(rel string, d fs.DirEntry) error {
		c.Skip("unreadable", rel)
		if d != nil && d.IsDir() {
			return fs.SkipDir
		}
		return nil
	}
	err = fs.WalkDir(root.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return unreadable(rel, d)
		}
		info, err := d.Info()
		if err != nil {
			return unreadable(rel, d)
		}
		if !info.Mode().IsRegular() {
			return c.Add(rel, info.Mode(), 0, nil)
		}
		f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			return unreadable(rel, d)
		}
		defer f.Close()
		return c.Add(rel, info.Mode(), info.Size(), f)
	})
	return c, err
}
