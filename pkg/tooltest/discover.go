package tooltest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Discover lists the case files that paths name: a case file itself, or
// every *.test.yaml under a directory (skipping hidden directories and
// node_modules, following no link).
func Discover(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", sandbox.ErrInvalidSpec, err)
		}
		if !st.IsDir() {
			if !strings.HasSuffix(p, Suffix) {
				return nil, fmt.Errorf("%w: %s is not a case file (NAME%s)", sandbox.ErrInvalidSpec, p, Suffix)
			}
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return fs.SkipDir
			}
			if d.Type().IsRegular() && strings.HasSuffix(d.Name(), Suffix) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", sandbox.ErrInvalidSpec, err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no case file (NAME%s) in %s", sandbox.ErrInvalidSpec, Suffix, strings.Join(paths, ", "))
	}
	return out, nil
}
