package runner

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/sablebox/sablebox/pkg/internal/engine"
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
// within sandbox.MaxFiles and sandbox.MaxFileBytes; a link, a special
// file or one over the bounds is refused rather than followed or dropped.
func FilesFromDir(dir string) ([]sandbox.File, error) {
	abs, err := hostdir.Workspace(dir)
	if err != nil {
		return nil, hostDirError(err)
	}
	col, err := engine.CollectDir(abs)
	if err == nil {
		if notes := col.Notes(); len(notes) > 0 {
			err = errors.New(strings.Join(notes, "; "))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: workspace %s: %v", sandbox.ErrInvalidSpec, dir, err)
	}
	return col.Files, nil
}
