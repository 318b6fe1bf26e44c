package stage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// hostLinks are copied into the new root when they are symlinks (merged
// /usr); what the tool sees of the host is Config.View, bound read-only.
var hostLinks = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// devices are bound from the host into the new /dev.
var devices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}

// buildRoot makes the tool's view of the filesystem in cfg.Root and
// pivots into it. It runs in stage 1, in the new mount namespace.
func buildRoot(cfg Config) error {
	root := cfg.Root
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755"); err != nil {
		return fmt.Errorf("root tmpfs: %w", err)
	}
	for _, d := range hostLinks {
		if st, err := os.Lstat(d); err != nil || st.Mode()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(d)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, filepath.Join(root, d)); err != nil {
			return err
		}
	}
	for _, p := range cfg.View {
		if err := bindRO(p, filepath.Join(root, p)); err != nil {
			return err
		}
	}
	for inside, host := range cfg.Binds {
		if err := bindRO(host, filepath.Join(root, inside)); err != nil {
			return err
		}
	}
	if err := mountDev(root); err != nil {
		return err
	}
	l := cfg.Limits
	tmpfs := []struct {
		at, opts string
	}{
		{cfg.Paths.Tmp, fmt.Sprintf("size=%d,mode=1777", l.TmpBytes)},
		{cfg.Paths.Home, fmt.Sprintf("size=%d,mode=0700,uid=%d,gid=%d", l.HomeBytes, cfg.UID, cfg.GID)},
		{"/dev/shm", fmt.Sprintf("size=%d,mode=1777", l.TmpBytes)},
	}
	for _, t := range tmpfs {
		dst := filepath.Join(root, t.at)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", dst, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, t.opts); err != nil {
			return fmt.Errorf("tmpfs %s: %w", t.at, err)
		}
	}
	if err := bindRO(cfg.ToolDir, filepath.Join(root, cfg.Paths.Tool)); err != nil {
		return err
	}
	if cfg.Workspace != "" {
		if err := mountHostDir(cfg, cfg.Workspace, WorkspaceFD, filepath.Join(root, cfg.Paths.Workspace), unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV); err != nil {
			return err
		}
	} else if err := os.MkdirAll(filepath.Join(root, cfg.Paths.Workspace), 0o755); err != nil {
		return err
	}
	if cfg.Output != "" {
		dst := filepath.Join(root, cfg.Paths.Output)
		if err := mountHostDir(cfg, cfg.Output, OutputFD, dst, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
			return err
		}
	}
	for _, fs := range []struct{ at, typ string }{{"/proc", "proc"}, {"/sys", "sysfs"}} {
		dst := filepath.Join(root, fs.at)
		if err := os.MkdirAll(dst, 0o555); err != nil {
			return err
		}
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		if fs.typ == "sysfs" {
			flags |= unix.MS_RDONLY
			if !cfg.Apply.NetNS {
				continue // sysfs is only ours to mount with our own network namespace
			}
		}
		if err := unix.Mount(fs.typ, dst, fs.typ, flags, ""); err != nil {
			return fmt.Errorf("mount %s: %w", fs.at, err)
		}
	}
	// The root itself becomes read-only once everything is in place.
	if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("make root read-only: %w", err)
	}
	return pivot(root)
}

// mountHostDir mounts a host dir at dst with flags: from the detached
// mount tree on fd when the parent made one, else by path.
func mountHostDir(cfg Config, path string, fd int, dst string, flags uintptr) error {
	if cfg.DetachedMounts {
		return attach(fd, dst, flags)
	}
	return bind(path, dst, flags)
}

// attach moves the detached mount tree fd (made by the parent with
// open_tree) to dst and remounts it with flags.
func attach(fd int, dst string, flags uintptr) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach %s: %w", dst, err)
	}
	return remount(dst, flags)
}

// remount applies flags to the bind mount at dst and to every mount
// under it (a host directory's submounts keep their own flags
// otherwise), keeping the flags the kernel locks in a user namespace:
// with mount_setattr and AT_RECURSIVE, in one step, where the kernel has
// it (5.12), else one mount at a time.
func remount(dst string, flags uintptr) error {
	attr := unix.MountAttr{Attr_set: mountAttrs(flags)}
	err := unix.MountSetattr(unix.AT_FDCWD, dst, unix.AT_RECURSIVE, &attr)
	if err == nil {
		return nil
	}
	// ENOSYS: an older kernel; EPERM: a seccomp filter around this
	// sablebox (a container's) that does not know the call.
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("set the flags of %s and its submounts: %w", dst, err)
	}
	// dst and the mounts below it, parents first (mountinfo's order).
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dst))
	if err != nil {
		return fmt.Errorf("list the mounts under %s: %w", dst, err)
	}
	for _, m := range mounts {
		if err := remountOne(m.Mountpoint, flags); err != nil {
			return err
		}
	}
	return nil
}

// mountAttrs are the mount_setattr attributes of mount flags.
func mountAttrs(flags uintptr) uint64 {
	var attrs uint64
	for _, m := range []struct {
		ms   uintptr
		attr uint64
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	} {
		if flags&m.ms != 0 {
			attrs |= m.attr
		}
	}
	return attrs
}

// remountOne applies flags to the one mount at dst.
func remountOne(dst string, flags uintptr) error {
	var sfs unix.Statfs_t
	if err := unix.Statfs(dst, &sfs); err == nil {
		flags |= lockedFlags(sfs.Flags)
	}
	if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|flags, ""); err != nil {
		return fmt.Errorf("remount %s: %w", dst, err)
	}
	return nil
}

// pivot makes root the process's root and detaches the old one.
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on top of the new one;
	// detaching it leaves the new root alone.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// mountDev makes a minimal /dev: a few device nodes bound from the host
// and the usual links.
func mountDev(root string) error {
	dev := filepath.Join(root, "dev")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,mode=0755"); err != nil {
		return fmt.Errorf("dev tmpfs: %w", err)
	}
	for _, d := range devices {
		dst := filepath.Join(root, d)
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			return err
		}
		f.Close()
		if err := bind(d, dst, unix.MS_NOSUID|unix.MS_NOEXEC); err != nil {
			return err
		}
	}
	for link, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dev, link)); err != nil {
			return err
		}
	}
	return nil
}

// bindRO binds src read-only (and nosuid, nodev) at dst.
func bindRO(src, dst string) error {
	return bind(src, dst, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV)
}

// bind binds src at dst (recursively) and remounts it with flags, keeping
// the flags the kernel locks in a user namespace.
func bind(src, dst string, flags uintptr) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		err = os.MkdirAll(dst, 0o755)
	} else {
		if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
			var f *os.File
			if f, err = os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.Close()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", dst, err)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return remount(dst, flags)
}

// lockedFlags are the mount flags of an existing mount that a remount in
// a user namespace must keep.
func lockedFlags(st int64) uintptr {
	var f uintptr
	for _, m := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st&m.st != 0 {
			f |= m.ms
		}
	}
	return f
}
