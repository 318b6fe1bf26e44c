package engine

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/setting"
)

// DefaultPath is the tool's PATH.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// Env is the tool's environment in a container.
func Env(spec *sandbox.Spec) []string {
	return ToolEnv(spec, sandbox.HomeDir, sandbox.TmpDir, DefaultPath)
}

// ToolEnv is the tool's environment where its home and tmp dirs are home
// and tmp and its PATH is path: the sandbox's own variables first, then
// the caller's (which Spec.Validate keeps from overriding HOME, PATH and
// LANG).
func ToolEnv(spec *sandbox.Spec, home, tmp, path string) []string {
	return append([]string{
		"HOME=" + home,
		"PATH=" + path,
		"LANG=C.UTF-8",
		"TMPDIR=" + tmp,
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
	}, spec.Env...)
}

// CgroupV2Only reports whether /sys/fs/cgroup is the unified hierarchy
// alone (not cgroup v1, nor a hybrid of both).
func CgroupV2Only() bool {
	var st unix.Statfs_t
	return unix.Statfs(CgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// OOMKilled reports whether a memory cgroup's counters (memory.oom_control
// in v1, memory.events in v2) count an OOM kill.
func OOMKilled(counters []byte) bool {
	for _, line := range bytes.Split(counters, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("oom_kill ")); ok {
			kills, _ := strconv.Atoi(string(bytes.TrimSpace(rest)))
			return kills > 0
		}
	}
	return false
}

// TmpOptions are the mount options of the writable, noexec /tmp.
func TmpOptions(l sandbox.Limits) []string {
	return []string{"rw", "noexec", "nosuid", "nodev", fmt.Sprintf("size=%d", l.TmpBytes)}
}

// HomeOptions are the mount options of the writable, noexec home tmpfs.
// Each engine adds its own way of giving it to the sandbox user (Docker:
// uid= and gid=; Podman: U).
func HomeOptions() []string {
	return []string{"rw", "noexec", "nosuid", "nodev", fmt.Sprintf("size=%d", sandbox.HomeBytes), "mode=0700"}
}

// Command returns the entrypoint and arguments of the container: the
// interpreter of the tool's language with the tool's path, or the
// caller's command.
func Command(spec *sandbox.Spec) (entrypoint, cmd []string) {
	if spec.Tool != nil {
		return sandbox.Interpreter(spec.Tool.Lang), append([]string{spec.Tool.Path()}, spec.Args...)
	}
	return append([]string{}, spec.Command...), append([]string{}, spec.Args...)
}

// Protections lists what every container run gets, on any engine.
func Protections() []string {
	return []string{
		"network: none (only lo)",
		"capabilities: all dropped",
		"no-new-privileges",
		"root filesystem: read-only",
		"/tmp and home: tmpfs, noexec,nosuid,nodev, size-limited",
		"user: uid 1000, gid 1000",
		"seccomp: sablebox profile",
		"memory limit, no swap; cpu quota; pids limit",
		"ulimits: nofile, nproc, fsize, stack, core=0",
		"ipc: private; init process reaps the tree",
		"workspace: read-only bind",
	}
}

// ToolArchive is a tar holding the tool file, root-owned and read-only, to
// be unpacked into sandbox.ToolDir.
func ToolArchive(t *sandbox.ToolFile) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_ = tw.WriteHeader(&tar.Header{
		Name: t.Name, Mode: 0o444, Size: int64(len(t.Content)),
		Uid: 0, Gid: 0, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg,
	})
	_, _ = tw.Write(t.Content)
	_ = tw.Close()
	return &buf
}

// FilesArchive is a tar of files, root-owned and read-only (directories
// 0555), to be unpacked into a directory of the sandbox.
func FilesArchive(files []sandbox.File) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	// Writes to a bytes.Buffer cannot fail.
	for _, f := range files {
		var parents []string
		for d := path.Dir(f.Path); d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			_ = tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o555, Typeflag: tar.TypeDir, ModTime: time.Unix(0, 0)})
		}
		_ = tw.WriteHeader(&tar.Header{Name: f.Path, Mode: int64(f.Mode()), Size: int64(len(f.Content)),
			ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg})
		_, _ = tw.Write(f.Content)
	}
	_ = tw.Close()
	return &buf
}

// Leftover is a labelled container an engine lists.
type Leftover struct {
	ID     string
	Labels map[string]string
}

// Reap removes the leftovers that owner judges orphaned at now (see
// sandbox.Owner.Orphaned), and returns how many it removed. It goes on
// past a failed removal and returns every error.
func Reap(leftovers []Leftover, owner sandbox.Owner, now time.Time, remove func(id string) error, log logrus.FieldLogger) (int, error) {
	var errs []error
	reaped := 0
	for _, c := range leftovers {
		orphaned, why := owner.Orphaned(c.Labels, now)
		if !orphaned {
			continue
		}
		if err := remove(c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		reaped++
		log.WithField("container", shortID(c.ID)).WithField("run", c.Labels[sandbox.LabelRun]).
			Infof("reaped leftover container: %s", why)
	}
	return reaped, errors.Join(errs...)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// KeyOCIRuntime is the setting that runs every container under another
// OCI runtime (runsc for gVisor); the container backends share it.
const KeyOCIRuntime = "oci-runtime"

var ociRuntimeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// OCIRuntimeSetting is the oci-runtime setting the container backends
// declare. It is a demand: a backend that runs no OCI runtime refuses it.
var OCIRuntimeSetting = setting.Setting{
	Key: KeyOCIRuntime, Demand: true,
	Help: "OCI runtime for the containers, such as runsc for gVisor (default: the engine's)",
	Check: func(v string) error {
		if v != "" && !ociRuntimeNameRE.MatchString(v) {
			return errors.New("want a runtime name such as runc or runsc")
		}
		return nil
	},
}
