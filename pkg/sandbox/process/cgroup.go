package process

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultCgroupParent names the directory under each hierarchy that
// holds sablebox's per-run cgroups (see pkg/internal/cgroup), unless
// Options.CgroupParent says another.
const DefaultCgroupParent = "sablebox"

// checkCgroupParent accepts a cgroup path relative to each hierarchy's
// root: names joined by "/", none of them "." or "..".
func checkCgroupParent(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || filepath.Clean(p) != p || slices.Contains(strings.Split(p, "/"), "..") {
		return errors.New("want a clean path relative to the cgroup root, such as sablebox or system.slice/sablebox")
	}
	return nil
}
