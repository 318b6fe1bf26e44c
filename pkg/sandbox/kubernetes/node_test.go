package kubernetes

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
)

// The test node's binaries, where .ci/kube-build puts them.
const (
	kubeletBinary   = "/var/cache/sablebox-k8s/kubelet"
	schedulerBinary = "/var/cache/sablebox-k8s/kube-scheduler"
	cniBinDir       = "/usr/lib/cni"
	pauseImage      = "sablebox.local/pause:1"
	// nodePidsLimit is the test kubelet's podPidsLimit.
	nodePidsLimit = 16
	// nodeBridge is the bridge of the node's Pods: no address, no route,
	// no masquerade, so a Pod reaches no host and no other network.
	nodeBridge = "sbx-k8s0"
	// podSubnet holds the Pods' addresses, on nodeBridge alone.
	podSubnet = "10.213.0.0/24"
)

// node is a kubelet on this machine, with a containerd of its own (its
// own socket, root and state: Docker's is untouched) and the
// kube-scheduler, joined to the test API server.
type node struct {
	dir  string
	name string
	cmds []*exec.Cmd
	ctrd string // containerd's socket
}

var (
	sharedNode     *node
	sharedNodeErr  error
	sharedNodeOnce sync.Once
)

// startNode starts (once per test binary) the test node, or skips: a
// failure where SABLEBOX_REQUIRE names kubelet.
func startNode(t testing.TB) (*apiServer, *node) {
	t.Helper()
	s := startAPIServer(t)
	sharedNodeOnce.Do(func() { sharedNode, sharedNodeErr = launchNode(s) })
	sandboxtest.SkipUnlessRequired(t, "kubelet", sharedNodeErr)
	return s, sharedNode
}

func launchNode(s *apiServer) (_ *node, err error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("a kubelet needs root")
	}
	for _, bin := range []string{kubeletBinary, schedulerBinary, filepath.Join(cniBinDir, "bridge"), filepath.Join(cniBinDir, "host-local")} {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("no %s (.ci/prepare installs and builds the node's parts): %w", bin, err)
		}
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "docker"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("no %s: %w", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "sablebox-node-")
	if err != nil {
		return nil, err
	}
	n := &node{dir: dir, name: "localhost", ctrd: filepath.Join(dir, "containerd.sock")}
	defer func() {
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "kubelet.log"))
			err = fmt.Errorf("%w\nkubelet's log ends:\n%s", err, tailOf(log))
			n.stop()
		}
	}()
	if err := n.startContainerd(); err != nil {
		return nil, err
	}
	if err := n.importImages(); err != nil {
		return nil, err
	}
	kubeconfig, err := s.writeKubeconfig(dir)
	if err != nil {
		return nil, err
	}
	if err := n.startKubelet(kubeconfig); err != nil {
		return nil, err
	}
	sched := exec.Command(schedulerBinary, "--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig,
		"--authorization-kubeconfig", kubeconfig, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0")
	if err := n.start(sched, "kube-scheduler.log"); err != nil {
		return nil, err
	}
	// Ready, and without the taint of a node that is not.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		no, err := s.client.CoreV1().Nodes().Get(context.Background(), n.name, metav1.GetOptions{})
		if err == nil && nodeReady(no) {
			if len(no.Spec.Taints) == 0 {
				return n, nil
			}
			// The kubelet registers the node tainted not-ready; with no
			// controller manager here, lift it as its node lifecycle
			// controller does once the node is Ready.
			no.Spec.Taints = nil
			_, _ = s.client.CoreV1().Nodes().Update(context.Background(), no, metav1.UpdateOptions{})
			continue
		}
		if time.Now().After(deadline) {
			var conditions []corev1.NodeCondition
			if no != nil {
				conditions = no.Status.Conditions
			}
			return nil, fmt.Errorf("the kubelet's node is not ready in 2 minutes: %v %+v", err, conditions)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func nodeReady(no *corev1.Node) bool {
	for _, c := range no.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// start starts cmd with its output in the node's directory, killed with
// the test binary.
func (n *node) start(cmd *exec.Cmd, logName string) error {
	log, err := os.Create(filepath.Join(n.dir, logName))
	if err != nil {
		return err
	}
	// With every signal at its default, as a node's init would start it:
	// a signal this test inherited ignored (a race-enabled test binary
	// ignores SIGCANCEL) would reach every container through containerd.
	clean, err := filepath.Abs("../../../.ci/clean-signals")
	if err != nil {
		return err
	}
	if cmd.Err != nil {
		return cmd.Err
	}
	name := filepath.Base(cmd.Path)
	cmd.Path, cmd.Args = clean, append([]string{clean, cmd.Path}, cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	n.cmds = append(n.cmds, cmd)
	return nil
}

// startContainerd starts a containerd of the node's own with the CRI
// plugin: runc with cgroupfs, the bridge CNI plugin on nodeBridge, the
// pause image made here, and no lowering of oom_score_adj (this VM's
// root lacks CAP_SYS_RESOURCE, and runc fails to lower it).
func (n *node) startContainerd() error {
	cni := filepath.Join(n.dir, "cni")
	if err := os.MkdirAll(cni, 0o755); err != nil {
		return err
	}
	conf := fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "sablebox-test", "type": "bridge", "bridge": %q,
"isGateway": false, "ipMasq": false, "hairpinMode": false,
"ipam": {"type": "host-local", "subnet": %q, "dataDir": %q}}`, nodeBridge, podSubnet, filepath.Join(n.dir, "ipam"))
	if err := os.WriteFile(filepath.Join(cni, "10-sablebox.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[ttrpc]
  address = "%[3]s.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
`, filepath.Join(n.dir, "containerd"), filepath.Join(n.dir, "containerd-state"), n.ctrd, filepath.Join(n.dir, "opt"),
		pauseImage, cniBinDir, cni)
	path := filepath.Join(n.dir, "containerd.toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return err
	}
	if err := n.start(exec.Command("containerd", "--config", path), "containerd.log"); err != nil {
		return err
	}
	for range 100 {
		if exec.Command("ctr", "-a", n.ctrd, "version").Run() == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("containerd did not answer on %s", n.ctrd)
}

// importImages puts the pause image (a static binary built here) and the
// sandbox image (saved from Docker) into the node's containerd: there is
// no registry to pull from.
func (n *node) importImages() error {
	pause := filepath.Join(n.dir, "pause")
	build := exec.Command("go", "build", "-o", pause, "./testdata/pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the pause binary: %v: %s", err, out)
	}
	archive, err := imageArchive(pauseImage, pause)
	if err != nil {
		return err
	}
	if err := n.ctrImport(bytes.NewReader(archive)); err != nil {
		return fmt.Errorf("import the pause image: %w", err)
	}
	save := exec.Command("docker", "image", "save", testImage)
	out, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	if err := save.Start(); err != nil {
		return err
	}
	ierr := n.ctrImport(out)
	if err := save.Wait(); err != nil {
		return fmt.Errorf("docker image save %s (sablebox image build makes it): %w", testImage, err)
	}
	return ierr
}

func (n *node) ctrImport(r interface{ Read([]byte) (int, error) }) error {
	cmd := exec.Command("ctr", "-a", n.ctrd, "-n", "k8s.io", "images", "import", "-")
	cmd.Stdin = r
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ctr images import: %v: %s", err, out)
	}
	return nil
}

// imageArchive is a docker-archive of one layer holding binary as /pause,
// its entrypoint.
func imageArchive(ref, binary string) ([]byte, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	_ = lw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
	_, _ = lw.Write(data)
	_ = lw.Close()
	sum := sha256.Sum256(layer.Bytes())
	config, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/pause"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(sum[:])}}})
	manifest, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{ref}, "Layers": []string{"layer.tar"}}})
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, f := range []struct {
		name string
		data []byte
	}{{"layer.tar", layer.Bytes()}, {"config.json", config}, {"manifest.json", manifest}} {
		_ = tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(f.data)
	}
	return out.Bytes(), tw.Close()
}

// writeKubeconfig writes a kubeconfig of the test's admin for the node's
// parts.
func (s *apiServer) writeKubeconfig(dir string) (string, error) {
	path := filepath.Join(dir, "kubeconfig")
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
`, s.config.Host, s.config.BearerToken)
	return path, os.WriteFile(path, []byte(conf), 0o600)
}

// startKubelet starts the kubelet on loopback, as node "localhost" (the
// API server reaches it by that name), with sablebox's seccomp profiles
// in its seccomp directory, as the DaemonSet puts them on a cluster's
// nodes.
func (n *node) startKubelet(kubeconfig string) error {
	root := filepath.Join(n.dir, "kubelet")
	profiles := filepath.Join(root, "seccomp", "sablebox")
	if err := os.MkdirAll(profiles, 0o755); err != nil {
		return err
	}
	docs, err := nodeProfiles()
	if err != nil {
		return err
	}
	for name, doc := range docs {
		if err := os.WriteFile(filepath.Join(profiles, name+".json"), doc, 0o644); err != nil {
			return err
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzPort: 0
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
podPidsLimit: %d
evictionHard: {memory.available: "10Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
resolvConf: ""
`, port, n.ctrd, nodePidsLimit)
	path := filepath.Join(n.dir, "kubelet.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return err
	}
	return n.start(exec.Command(kubeletBinary, "--config", path, "--kubeconfig", kubeconfig, "--hostname-override", n.name,
		"--root-dir", root, "--cert-dir", filepath.Join(root, "pki"), "--v", "1"), "kubelet.log")
}

// stop stops the node's parts and removes all they made: the Pods'
// containers and shims, mounts, the bridge, the kubepods cgroups and the
// directory.
func (n *node) stop() {
	for i := len(n.cmds) - 1; i >= 0; i-- {
		c := n.cmds[i]
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		_ = c.Wait()
	}
	// The shims outlive containerd: kill them and what runs under them.
	for _, pid := range processesNaming(n.dir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	killCgroups("kubepods")
	unmountUnder(n.dir)
	_ = exec.Command("ip", "link", "delete", nodeBridge).Run()
	_ = os.RemoveAll(n.dir)
}

// processesNaming lists the processes whose command line names s.
func processesNaming(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killCgroups kills what runs in the cgroup name at the root of every
// hierarchy, and removes it, deepest first.
func killCgroups(name string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if d := "/sys/fs/cgroup/" + name; exists(d) {
		roots = append(roots, d)
	}
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			procs, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(procs)) {
				var pid int
				if _, err := fmt.Sscan(f, &pid); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		for range 50 {
			left := 0
			for _, d := range dirs {
				if os.Remove(d) != nil && exists(d) {
					left++
				}
			}
			if left == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// unmountUnder unmounts every mount below dir, deepest first.
func unmountUnder(dir string) {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}
