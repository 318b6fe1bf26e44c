package selftest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Host is what one backend's battery sets up on the host for the attacks
// to go after, and watches: a private directory with a secret file, a
// variable in this process's environment, a process of its own, and
// loopback listeners (TCP, UDP and an abstract unix socket) that note
// every contact.
type Host struct {
	// Dir is a directory of the host (0700) the attacks try to reach.
	Dir   string
	token string

	secretPath, secret string
	secretFile         *os.File // held open: the attacks look for it under /proc/*/fd
	envName, envValue  string
	canary             *exec.Cmd
	canaryName         string
	hostname           string

	tcp, tcp6   net.Listener
	udp, udp6   *net.UDPConn
	abstract    net.Listener
	unix        net.Listener
	dnsUDP      *net.UDPConn
	dnsTCP      net.Listener
	bind, bind6 string // loopback addresses the host dials while a run lasts
	canaryGone  chan struct{}
	identity    map[string]string

	// shared are world-readable secrets in the directories every process
	// of the host shares (sharedDirs).
	shared      []string
	sharedValue string

	mu   sync.Mutex
	hits []string
}

// sharedDirs are the host's directories that every process shares, which
// a sandbox must not: the attacks leave marks and look for secrets there.
var sharedDirs = []string{"/tmp", "/var/tmp", "/dev/shm"}

// canaryPrefix starts the argv[0] of the processes the battery and its
// attacks start on purpose, so that the host can find them.
const canaryPrefix = "sablebox-selftest-"

// NewHost sets up the host's side of the battery.
func NewHost() (*Host, error) {
	h := &Host{token: randomToken()}
	var err error
	if h.Dir, err = os.MkdirTemp("", canaryPrefix+"host-"); err != nil {
		return nil, fmt.Errorf("selftest: make the host directory: %w", err)
	}
	fail := func(what string, err error) (*Host, error) {
		h.Close()
		return nil, fmt.Errorf("selftest: %s: %w", what, err)
	}
	h.secretPath, h.secret = filepath.Join(h.Dir, "secret"), "host-secret-"+randomToken()
	if err := os.WriteFile(h.secretPath, []byte(h.secret+"\n"), 0o600); err != nil {
		return fail("write the host secret", err)
	}
	if h.secretFile, err = os.Open(h.secretPath); err != nil {
		return fail("open the host secret", err)
	}
	h.sharedValue = "host-shared-secret-" + randomToken()
	for _, d := range sharedDirs {
		p := filepath.Join(d, canaryPrefix+"shared-"+h.token)
		if err := os.WriteFile(p, []byte(h.sharedValue+"\n"), 0o644); err == nil {
			h.shared = append(h.shared, p)
		}
	}
	h.envName, h.envValue = "SELFTEST_HOST_ONLY_"+strings.ToUpper(h.token[:8]), "host-env-"+randomToken()
	os.Setenv(h.envName, h.envValue)
	h.hostname, _ = os.Hostname()
	h.canaryName = canaryPrefix + "canary-" + h.token
	if err := h.startCanary(); err != nil {
		return fail("start the canary process", err)
	}
	h.identity = hostIdentity()
	if h.tcp, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fail("open the TCP listener", err)
	}
	go h.accept(h.tcp, "TCP "+h.tcp.Addr().String())
	if h.udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		return fail("open the UDP listener", err)
	}
	go h.readUDP(h.udp, "a datagram to UDP "+h.udp.LocalAddr().String())
	// ::1 where the host has it; the attacks on it find no address
	// otherwise, and say so.
	if h.tcp6, err = net.Listen("tcp6", "[::1]:0"); err == nil {
		go h.accept(h.tcp6, "TCP "+h.tcp6.Addr().String())
	}
	if h.udp6, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		go h.readUDP(h.udp6, "a datagram to UDP "+h.udp6.LocalAddr().String())
	}
	if h.dnsUDP, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		return fail("open the DNS resolver (UDP)", err)
	}
	go h.readUDP(h.dnsUDP, "a DNS query to the resolver on UDP "+h.dnsUDP.LocalAddr().String())
	if h.dnsTCP, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fail("open the DNS resolver (TCP)", err)
	}
	go h.accept(h.dnsTCP, "the DNS resolver on TCP "+h.dnsTCP.Addr().String())
	if h.abstract, err = net.Listen("unix", "@"+canaryPrefix+h.token); err != nil {
		return fail("open the abstract unix socket", err)
	}
	go h.accept(h.abstract, "the abstract unix socket @"+canaryPrefix+h.token)
	if h.unix, err = net.Listen("unix", filepath.Join(h.Dir, "sock")); err != nil {
		return fail("open the unix socket", err)
	}
	go h.accept(h.unix, "the unix socket "+filepath.Join(h.Dir, "sock"))
	if h.bind, err = freePort("tcp", "127.0.0.1:0"); err != nil {
		return fail("find a free port", err)
	}
	h.bind6, _ = freePort("tcp6", "[::1]:0")
	return h, nil
}

// startCanary starts the host process the attacks try to see, signal
// and trace; a goroutine notes its end.
func (h *Host) startCanary() error {
	h.canary = &exec.Cmd{Path: "/bin/sleep", Args: []string{h.canaryName, "86400"}}
	if err := h.canary.Start(); err != nil {
		return err
	}
	gone := make(chan struct{})
	h.canaryGone = gone
	go func(c *exec.Cmd) {
		_ = c.Wait()
		close(gone)
	}(h.canary)
	return nil
}

// freePort is a loopback address no one listens on, for the tool to bind.
func freePort(network, addr string) (string, error) {
	l, err := net.Listen(network, addr)
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// probe dials the addresses the attacks bind inside, every 50 ms until
// stop is closed: a tool's listener the host can reach is an escape.
func (h *Host) probe(stop <-chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		for _, addr := range []string{h.bind, h.bind6} {
			if addr == "" {
				continue
			}
			if c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond); err == nil {
				c.Close()
				h.hit("the host reached a listener the tool bound on " + addr)
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// hostIdentity is what names this machine: its machine id and the MAC
// addresses of its interfaces.
func hostIdentity() map[string]string {
	id := map[string]string{}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		id["the host's machine id"] = strings.TrimSpace(string(b))
	}
	ifaces, _ := net.Interfaces()
	for _, i := range ifaces {
		mac := i.HardwareAddr.String()
		if i.Flags&net.FlagLoopback == 0 && mac != "" && strings.Trim(mac, "0:") != "" {
			id["the MAC address of the host's "+i.Name] = mac
		}
	}
	return id
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (h *Host) hit(what string) {
	h.mu.Lock()
	h.hits = append(h.hits, what)
	h.mu.Unlock()
}

func (h *Host) accept(l net.Listener, what string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		h.hit("a connection to " + what)
		c.Close()
	}
}

func (h *Host) readUDP(c *net.UDPConn, what string) {
	buf := make([]byte, 2048)
	for {
		if _, _, err := c.ReadFromUDP(buf); err != nil {
			return
		}
		h.hit(what)
	}
}

// Env is what a payload of run runID is told of the host: where its
// directory, secret and listeners are, and the name its processes take.
func (h *Host) Env(runToken string) []string {
	tcp6, udp6 := "", ""
	if h.tcp6 != nil {
		tcp6 = h.tcp6.Addr().String()
	}
	if h.udp6 != nil {
		udp6 = h.udp6.LocalAddr().String()
	}
	return []string{
		"SELFTEST_TCP6=" + tcp6,
		"SELFTEST_UDP6=" + udp6,
		"SELFTEST_DNS=" + h.dnsUDP.LocalAddr().String(),
		"SELFTEST_DNS_TCP=" + h.dnsTCP.Addr().String(),
		"SELFTEST_BIND=" + h.bind,
		"SELFTEST_BIND6=" + h.bind6,
		"SELFTEST_UNIX=" + filepath.Join(h.Dir, "sock"),
		"SELFTEST_CANARY_PID=" + strconv.Itoa(h.canary.Process.Pid),
		"SELFTEST_DIR=" + h.Dir,
		"SELFTEST_SECRET=" + h.secretPath,
		"SELFTEST_TCP=" + h.tcp.Addr().String(),
		"SELFTEST_UDP=" + h.udp.LocalAddr().String(),
		"SELFTEST_ABSTRACT=" + canaryPrefix + h.token,
		"SELFTEST_ENV_NAME=" + h.envName,
		"SELFTEST_PROC=" + canaryPrefix + runToken,
		"SELFTEST_MARK=" + canaryPrefix + "mark-" + runToken,
		"SELFTEST_SHARED=" + canaryPrefix + "shared-" + h.token,
	}
}

// secrets are the host's values that no output may hold, by what they are.
func (h *Host) secrets() map[string]string {
	s := map[string]string{
		"the host's secret file":                  h.secret,
		"a variable of the host's environment":    h.envValue,
		"the host's canary process":               h.canaryName,
		"a secret in a directory the host shares": h.sharedValue,
	}
	for what, v := range h.identity {
		s[what] = v
	}
	return s
}

// observe collects what the host saw since the last call: files made in
// its directory, contacts with its listeners, and processes named for
// runToken still running (which it kills).
func (h *Host) observe(runToken string) []string {
	time.Sleep(50 * time.Millisecond) // a contact in flight lands
	h.mu.Lock()
	seen := h.hits
	h.hits = nil
	h.mu.Unlock()
	select {
	case <-h.canaryGone:
		seen = append(seen, "the canary process was killed")
		if err := h.startCanary(); err != nil {
			seen = append(seen, "and could not be started again: "+err.Error())
		}
	default:
	}
	entries, _ := os.ReadDir(h.Dir)
	for _, e := range entries {
		if e.Name() != "secret" && e.Name() != "sock" && !strings.HasPrefix(e.Name(), "out-") {
			seen = append(seen, "a file "+filepath.Join(h.Dir, e.Name()))
			os.RemoveAll(filepath.Join(h.Dir, e.Name()))
		}
	}
	for _, d := range sharedDirs {
		mark := filepath.Join(d, canaryPrefix+"mark-"+runToken)
		if _, err := os.Lstat(mark); err == nil {
			seen = append(seen, "a file "+mark)
			os.RemoveAll(mark)
		}
	}
	for _, pid := range processesNamed(canaryPrefix + runToken) {
		seen = append(seen, fmt.Sprintf("process %d left running", pid))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return seen
}

// processesNamed lists the processes whose command line holds name.
func processesNamed(name string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(name)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Close takes down what NewHost set up.
func (h *Host) Close() error {
	var errs []error
	if h.tcp != nil {
		errs = append(errs, h.tcp.Close())
	}
	if h.udp != nil {
		errs = append(errs, h.udp.Close())
	}
	for _, l := range []net.Listener{h.abstract, h.tcp6, h.unix, h.dnsTCP} {
		if l != nil {
			errs = append(errs, l.Close())
		}
	}
	for _, c := range []*net.UDPConn{h.udp6, h.dnsUDP} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	if h.secretFile != nil {
		errs = append(errs, h.secretFile.Close())
	}
	if h.canary != nil && h.canary.Process != nil {
		_ = h.canary.Process.Kill()
		<-h.canaryGone
	}
	for _, p := range h.shared {
		errs = append(errs, os.Remove(p))
	}
	if h.envName != "" {
		os.Unsetenv(h.envName)
	}
	if h.Dir != "" {
		errs = append(errs, os.RemoveAll(h.Dir))
	}
	return errors.Join(errs...)
}
