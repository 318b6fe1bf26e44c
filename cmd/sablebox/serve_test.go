package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sablebox/sablebox/cmd/sablebox/cli"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/server"
)

// `sablebox serve` on a unix socket: a client with a token runs
// examples/wordcount.py and gets the result `sablebox run --json` gives; a
// wrong token gets 401; SIGTERM (the context) ends it and its socket.
func TestServeOverAUnixSocket(t *testing.T) {
	requireDocker(t)
	wordcount, err := filepath.Abs("../../examples/wordcount.py")
	if err != nil {
		t.Fatal(err)
	}
	isolate(t)
	dir := t.TempDir()
	var tokens bytes.Buffer
	tokens.WriteString("tokens:\n")
	code := cli.Main(context.Background(), []string{"token", "new", "--name", "tester"}, cli.Streams{In: strings.NewReader(""), Out: &tokens, Err: io.Discard})
	if code != 0 {
		t.Fatal("token new failed")
	}
	secret := "sbx_fixed-for-the-test"
	tokens.WriteString("  - name: client\n    sha256: " + server.HashToken(secret) + "\n")
	tokensFile := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(tokensFile, tokens.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	auditFile := filepath.Join(dir, "audit.jsonl")
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() {
		served <- cli.Main(ctx, []string{"serve", "--runtime", "docker", "--tokens", tokensFile, "--listen", "unix://" + sock,
			"--audit-file", auditFile},
			cli.Streams{In: strings.NewReader(""), Out: io.Discard, Err: &serveErr})
	}()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(sock); err == nil && st.Mode().Perm() == server.SocketMode {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket: %s", serveErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	tool, err := os.ReadFile(wordcount)
	if err != nil {
		t.Fatal(err)
	}
	const input = "the cat the dog the end\n"
	body, _ := json.Marshal(server.RunRequest{Tool: &server.ToolSource{Source: string(tool), Lang: "python"},
		Args: []string{"--top", "2"}, Stdin: input, Wait: true})
	post := func(token string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", "http://sablebox/v1/runs", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, data
	}
	resp, data := post(secret)
	var viaServer sandbox.Result
	if err := json.Unmarshal(data, &viaServer); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s: %v", resp.StatusCode, data, err)
	}
	local := sablebox(t, input, "run", "--runtime", "docker", "--json", wordcount, "--", "--top", "2")
	var viaCLI sandbox.Result
	if err := json.Unmarshal([]byte(local.stdout), &viaCLI); err != nil {
		t.Fatalf("%+v: %v", local, err)
	}
	if viaServer.Status != viaCLI.Status || viaServer.ExitCode != viaCLI.ExitCode || viaServer.Stdout.String() != viaCLI.Stdout.String() ||
		viaServer.Backend != viaCLI.Backend || viaServer.Image != viaCLI.Image || viaServer.Seccomp != viaCLI.Seccomp || viaServer.Limits != viaCLI.Limits {
		t.Errorf("through the service:\n%+v\nthrough the CLI:\n%+v", viaServer, viaCLI)
	}
	if resp, data := post("sbx_wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d %s", resp.StatusCode, data)
	}
	// `sablebox run --server` gives what a local run gives, exit codes too.
	t.Setenv("SABLEBOX_TOKEN", secret)
	remote := sablebox(t, input, "run", "--server", "unix://"+sock, wordcount, "--", "--top", "2")
	if remote.code != 0 || remote.stdout != viaCLI.Stdout.String() {
		t.Errorf("run --server: %+v", remote)
	}
	out := filepath.Join(dir, "out")
	got := sablebox(t, "", "run", "--server", "unix://"+sock, "--output", out, "--timeout", "5s", "--", "sh", "-c", "echo r > /output/r.txt; exit 3")
	if data, err := os.ReadFile(filepath.Join(out, "r.txt")); got.code != 3 || err != nil || string(data) != "r\n" {
		t.Errorf("run --server with an output dir: %+v, %q, %v", got, data, err)
	}
	if got := sablebox(t, "", "run", "--server", "unix://"+sock, "--timeout", "1s", "--", "sleep", "10"); got.code != 124 {
		t.Errorf("run --server past its timeout: %+v", got)
	}
	if got := sablebox(t, "", "run", "--server", "unix://"+sock, "--memory", "8g", "--", "true"); got.code != 126 ||
		!strings.Contains(got.stderr, "ceiling") {
		t.Errorf("run --server above the ceiling: %+v", got)
	}
	t.Setenv("SABLEBOX_TOKEN", "sbx_wrong")
	if got := sablebox(t, "", "run", "--server", "unix://"+sock, "--", "true"); got.code != 125 || !strings.Contains(got.stderr, "not known") {
		t.Errorf("run --server with a wrong token: %+v", got)
	}
	// --json prints one result object whatever happens, as a local run does.
	var refused sandbox.Result
	if got := sablebox(t, "", "run", "--json", "--server", "unix://"+sock, "--", "true"); got.code != 125 ||
		json.Unmarshal([]byte(got.stdout), &refused) != nil || refused.Status != sandbox.StatusError || refused.ExitCode != 125 {
		t.Errorf("run --json --server with a wrong token: %+v", got)
	}
	stop()
	select {
	case code := <-served:
		if code != 0 {
			t.Errorf("serve exited %d: %s", code, serveErr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("the socket outlived the server")
	}
	// Each run's audit record names its token, never the secret.
	audit, err := os.ReadFile(auditFile)
	if err != nil || !strings.Contains(string(audit), `"caller":"client"`) || strings.Contains(string(audit), secret) {
		t.Errorf("audit records %s (%v): want the token's name and not its secret", audit, err)
	}
}

// With a certificate and key, `sablebox serve` speaks only TLS.
func TestServeTLS(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sablebox"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	tokens := writeTokens(t, "t", "s", "")
	addr := freePort(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan int, 1)
	go func() {
		served <- cli.Main(ctx, []string{"serve", "--runtime", "process", "--tokens", tokens, "--listen", "tcp://" + addr,
			"--tls-cert", certFile, "--tls-key", keyFile}, cli.Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	}()
	pool := x509.NewCertPool()
	cert, _ := x509.ParseCertificate(der)
	pool.AddCert(cert)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err = tlsClient.Get("https://" + addr + "/healthz"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("https: %v", err)
	}
	resp.Body.Close()
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP was answered on a TLS listener")
	}
	stop()
	if code := <-served; code != 0 {
		t.Errorf("serve exited %d", code)
	}
}
