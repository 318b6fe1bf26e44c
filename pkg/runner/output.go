package runner

import (
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/sablebox/sablebox/pkg/sandbox"
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
