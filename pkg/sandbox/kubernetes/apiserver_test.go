package kubernetes

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
)

// apiServerBinary is where .ci/kube-build builds kube-apiserver
// (KUBE_APISERVER overrides it).
const apiServerBinary = "/var/cache/sablebox-k8s/kube-apiserver"

// apiServer is a real kube-apiserver on loopback over Debian's etcd,
// with PodSecurity admission (enforcing where a namespace's labels say)
// and RBAC; there is no controller manager (the node's tests add a
// kube-scheduler and a kubelet: node_test.go).
type apiServer struct {
	dir    string
	cmds   []*exec.Cmd
	config *rest.Config
	client *k8s.Clientset
	// warnings are the admission warnings the server sent back.
	mu       sync.Mutex
	warnings []string
}

// HandleWarningHeader notes a warning the API server sent.
func (s *apiServer) HandleWarningHeader(code int, agent, text string) {
	s.mu.Lock()
	s.warnings = append(s.warnings, text)
	s.mu.Unlock()
}

func (s *apiServer) takeWarnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.warnings
	s.warnings = nil
	return w
}

var (
	sharedServer     *apiServer
	sharedServerErr  error
	sharedServerOnce sync.Once
)

// startAPIServer starts (once per test binary) etcd and kube-apiserver,
// or skips: a failure where SABLEBOX_REQUIRE names kube-apiserver.
func startAPIServer(t testing.TB) *apiServer {
	t.Helper()
	sharedServerOnce.Do(func() { sharedServer, sharedServerErr = launch() })
	sandboxtest.SkipUnlessRequired(t, "kube-apiserver", sharedServerErr)
	return sharedServer
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launch() (*apiServer, error) {
	bin := os.Getenv("KUBE_APISERVER")
	if bin == "" {
		bin = apiServerBinary
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("no kube-apiserver at %s (.ci/kube-build builds it): %w", bin, err)
	}
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		return nil, fmt.Errorf("no etcd (Debian's etcd-server): %w", err)
	}
	dir, err := os.MkdirTemp("", "sablebox-kube-")
	if err != nil {
		return nil, err
	}
	clientPort, err := freePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	etcdCmd := exec.Command(etcd, "--data-dir", filepath.Join(dir, "etcd"), "--name", "sablebox-test",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-cluster", fmt.Sprintf("sablebox-test=http://127.0.0.1:%d", peerPort))
	etcdLog, _ := os.Create(filepath.Join(dir, "etcd.log"))
	etcdCmd.Stdout, etcdCmd.Stderr = etcdLog, etcdLog
	etcdCmd.SysProcAttr = pdeath()
	if err := etcdCmd.Start(); err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "sa.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return nil, err
	}
	token := randomHex()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+`,sablebox-test,1,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}
	apiCmd := exec.Command(bin, "--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort),
		"--cert-dir", filepath.Join(dir, "certs"), "--token-auth-file", tokens, "--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", keyFile,
		"--service-account-signing-key-file", keyFile, "--service-cluster-ip-range", "10.96.0.0/24",
		"--enable-admission-plugins", "PodSecurity,ServiceAccount,NamespaceLifecycle,LimitRanger,ResourceQuota",
		// The test node's kubelet is "localhost", on loopback.
		"--kubelet-preferred-address-types", "Hostname,InternalIP")
	apiLog, _ := os.Create(filepath.Join(dir, "kube-apiserver.log"))
	apiCmd.Stdout, apiCmd.Stderr = apiLog, apiLog
	apiCmd.SysProcAttr = pdeath()
	if err := apiCmd.Start(); err != nil {
		_ = etcdCmd.Process.Kill()
		return nil, fmt.Errorf("start kube-apiserver: %w", err)
	}
	s := &apiServer{dir: dir, cmds: []*exec.Cmd{apiCmd, etcdCmd}}
	s.config = &rest.Config{Host: fmt.Sprintf("https://127.0.0.1:%d", apiPort), BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}, WarningHandler: s, QPS: 200, Burst: 400}
	if s.client, err = k8s.NewForConfig(s.config); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, err := s.client.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "kube-apiserver.log"))
			s.stop()
			return nil, fmt.Errorf("kube-apiserver not ready in 90 s: %v\n%s", err, tailOf(log))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s, nil
}

func tailOf(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// setupNamespace makes a fresh namespace as `sablebox k8s setup` would,
// with the default ServiceAccount no controller manager makes here.
func setupNamespace(t testing.TB, s *apiServer) string {
	t.Helper()
	ctx := context.Background()
	name := "sablebox-test-" + randomHex()[:8]
	if _, err := s.client.CoreV1().Namespaces().Create(ctx, Namespace(name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	for _, sa := range []string{"default"} {
		if _, err := s.client.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.client.NetworkingV1().NetworkPolicies(name).Create(ctx, DenyAll(name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.NodeV1().RuntimeClasses().Create(ctx, GVisor(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	sa, role, binding := RBAC(name)
	if _, err := s.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.RbacV1().Roles(name).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.RbacV1().RoleBindings(name).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

func pdeath() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// TestMain stops the API server and etcd after the tests, and removes
// their data.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedNode != nil {
		sharedNode.stop()
	}
	if sharedServer != nil {
		sharedServer.stop()
	}
	os.Exit(code)
}

func (s *apiServer) stop() {
	for _, c := range s.cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	os.RemoveAll(s.dir)
}
