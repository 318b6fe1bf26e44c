package engine

import (
	"fmt"
	"os"
	"path"
	"slices"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// WriteTool and WriteFiles write a run's tool file and workspace files
// into host directories that are its sandbox's own (a container's volumes
// for a local engine run as root, the process sandbox's run dir), as
// ToolArchive and FilesArchive lay them out: this process's, read-only,
// directories 0555, the epoch as their time. No link is followed. For a
// container they give the archive API's result without its cost (Docker
// re-executes itself to unpack each archive in a chroot: about 40 ms).

// WriteTool writes the tool file into dir.
func WriteTool(dir string, tool *sandbox.ToolFile) error {
	epoch := time.Unix(0, 0)
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.WriteFile(tool.Name, tool.Content, 0o444); err != nil {
		return fmt.Errorf("write the tool: %w", err)
	}
	return r.Chtimes(tool.Name, epoch, epoch)
}

// WriteFiles writes the workspace files into dir.
func WriteFiles(dir string, files []sandbox.File) error {
	epoch := time.Unix(0, 0)
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	var dirs []string
	for _, f := range files {
		for d := path.Dir(f.Path); d != "." && !slices.Contains(dirs, d); d = path.Dir(d) {
			dirs = append(dirs, d)
		}
		if err := r.MkdirAll(path.Dir(f.Path), 0o755); err != nil {
			return fmt.Errorf("workspace files: %w", err)
		}
		if err := r.WriteFile(f.Path, f.Content, f.Mode()); err != nil {
			return fmt.Errorf("workspace files: %w", err)
		}
		if err := r.Chtimes(f.Path, epoch, epoch); err != nil {
			return err
		}
	}
	// The deepest first: a directory made read-only takes no more files.
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	for _, d := range dirs {
		if err := r.Chmod(d, 0o555); err != nil {
			return err
		}
		if err := r.Chtimes(d, epoch, epoch); err != nil {
			return err
		}
	}
	return nil
}
