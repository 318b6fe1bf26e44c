package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/hostdir"
)

// writeOutput writes the files a tool left in /output into dir, as this
// process's user: regular files, 0644 (0755 when executable), in
// directories 0755. It never follows a link nor replaces a file (dir was
// empty, and os.Root keeps every path inside it); it goes on past a file
// it cannot write and returns every error.
func writeOutput(dir string, files []sandbox.File) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var errs []error
	for _, f := range files {
		if err := writeFile(root, f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
		}
	}
	return errors.Join(errs...)
}

func writeFile(root *os.Root, f sandbox.File) error {
	if parent := path.Dir(f.Path); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	mode := os.FileMode(0o644)
	if f.Executable {
		mode = 0o755
	}
	out, err := root.OpenFile(f.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = out.Write(f.Content)
	return errors.Join(err, out.Close())
}

// WriteOutput writes files (a run's Result.Files, fetched) into dir as
// Run does for Request.Output: dir must pass hostdir.Output first.
func WriteOutput(dir string, files []sandbox.File) error { return writeOutput(dir, files) }

// FilesFromDir reads a workspace directory (checked by hostdir's rules)
// as files by content, for a run that cannot bind it: regular files only,
// within sandbox.MaxFiles and sandbox.MaxFileBytes; a link or special
// file is refused rather than followed or dropped.
func FilesFromDir(dir string) ([]sandbox.File, error) {
	abs, err := hostdir.Workspace(dir)
	if err != nil {
		return nil, hostDirError(err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("%w: workspace: %v", sandbox.ErrInvalidSpec, err)
	}
	defer root.Close()
	var files []sandbox.File
	var total int64
	err = fs.WalkDir(root.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%s): a workspace sent by content holds regular files only", rel, info.Mode().Type())
		}
		if total += info.Size(); len(files) >= sandbox.MaxFiles || total > sandbox.MaxFileBytes {
			return fmt.Errorf("more than %d files or %d MiB", sandbox.MaxFiles, sandbox.MaxFileBytes>>20)
		}
		content, err := root.ReadFile(rel)
		if err != nil {
			return err
		}
		files = append(files, sandbox.File{Path: rel, Content: content, Executable: info.Mode()&0o111 != 0})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: workspace %s: %v", sandbox.ErrInvalidSpec, dir, err)
	}
	return files, nil
}
