package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/server"
)

// serveProcess is a `sablebox serve` process on a loopback TCP port.
type serveProcess struct {
	addr string
	cmd  *exec.Cmd
	logs bytes.Buffer
}

// startServe runs `sablebox serve --runtime docker` with the tokens file on
// a free loopback port, and returns once it answers /readyz; it is
// stopped (SIGINT) when tb ends, or by stop.
func startServe(tb testing.TB, tokens string, args ...string) *serveProcess {
	tb.Helper()
	p := &serveProcess{addr: freePort(tb)}
	p.cmd = exec.Command(binary, append([]string{"serve", "--runtime", "docker", "--tokens", tokens, "--listen", "tcp://" + p.addr}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.stop)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + p.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the service did not get ready: %s", p.logs.String())
		}
	}
}

// stop ends the service as SIGTERM would; a second call does nothing.
func (p *serveProcess) stop() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		_ = p.cmd.Wait()
	}
}

// writeTokens writes a tokens file with one token, name, for secret;
// extra adds fields to its entry (", rate: 5").
func writeTokens(tb testing.TB, name, secret, extra string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tokens.yaml")
	entry := "tokens:\n  - {name: " + name + ", sha256: " + server.HashToken(secret) + extra + "}\n"
	if err := os.WriteFile(path, []byte(entry), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
