package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/server"
)

// The compose deployment, for real, with Debian's docker-compose: the file
// validates, the service builds offline and starts, a client container on
// the shared socket runs examples/wordcount.py with a token and gets what
// `sablebox run --json` gives, a wrong token is refused, and `down` leaves
// no container, volume or sandbox behind.
func TestComposeDeployment(t *testing.T) {
	dc := requireDocker(t)
	compose, err := exec.LookPath("docker-compose")
	sandboxtest.SkipUnlessRequired(t, "compose", err)
	if _, err := os.Stat("../../bin/sablebox"); err != nil {
		sandboxtest.SkipUnlessRequired(t, "compose", err) // the image is built from `make build`'s binary
	}
	wordcount, err := filepath.Abs("../../examples/wordcount.py")
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile("../../examples/data/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secret, sum := server.NewToken()
	tokens := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(tokens, []byte("tokens:\n  - name: compose-client\n    sha256: "+sum+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gid := "0"
	if out, err := exec.Command("stat", "-c", "%g", "/var/run/docker.sock").Output(); err == nil {
		gid = strings.TrimSpace(string(out))
	}
	project := "sbxtest" + sandbox.NewRunID()[:8]
	run := func(stdin []byte, env []string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(compose, append([]string{"-p", project}, args...)...)
		cmd.Dir = "../../compose" // the file's relative paths are the compose directory's
		cmd.Env = append(os.Environ(), append([]string{"SABLEBOX_TOKENS=" + tokens, "DOCKER_GID=" + gid}, env...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	if _, stderr, err := run(nil, nil, "config", "-q"); err != nil {
		t.Fatalf("config: %v\n%s", err, stderr)
	}
	t.Cleanup(func() {
		if _, stderr, err := run(nil, nil, "down", "-v", "--remove-orphans"); err != nil {
			t.Errorf("down: %v\n%s", err, stderr)
		}
		ctx := t.Context()
		left, _ := dc.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))})
		vols, _ := dc.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))})
		if len(left) > 0 || len(vols.Volumes) > 0 {
			t.Errorf("down left %d containers and %d volumes", len(left), len(vols.Volumes))
		}
	})
	if _, stderr, err := run(nil, nil, "up", "-d", "--build", "sablebox"); err != nil {
		t.Fatalf("up: %v\n%s", err, stderr)
	}
	clientRun := func(token string, args ...string) (string, string, error) {
		var out, errOut string
		var err error
		for try := 0; try < 50; try++ { // the service makes its socket a moment after it starts
			out, errOut, err = run(sample, []string{"SABLEBOX_TOKEN=" + token}, append([]string{"run", "--rm", "-T", "client"}, args...)...)
			if !strings.Contains(errOut, "cannot reach the sablebox service") {
				break
			}
		}
		return out, errOut, err
	}
	out, stderr, err := clientRun(secret, "run", "--json", "/examples/wordcount.py", "--", "--top", "3")
	if err != nil {
		logs, _, _ := run(nil, nil, "logs", "sablebox")
		t.Fatalf("client: %v\n%s\n%s\nservice log:\n%s", err, out, stderr, logs)
	}
	var viaService sandbox.Result
	if err := json.Unmarshal([]byte(out), &viaService); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	local := sablebox(t, string(sample), "run", "--runtime", "docker", "--json", wordcount, "--", "--top", "3")
	var viaCLI sandbox.Result
	if err := json.Unmarshal([]byte(local.stdout), &viaCLI); err != nil {
		t.Fatal(err)
	}
	if viaService.Status != sandbox.StatusOK || viaService.Stdout.String() != viaCLI.Stdout.String() || viaService.Backend != viaCLI.Backend ||
		viaService.Image != viaCLI.Image || viaService.Seccomp != viaCLI.Seccomp || viaService.Limits != viaCLI.Limits {
		t.Errorf("through compose:\n%+v\nthrough the CLI:\n%+v", viaService, viaCLI)
	}
	if _, stderr, err := clientRun("sbx_wrong", "run", "--", "true"); err == nil || !strings.Contains(stderr, "not known") {
		t.Errorf("a wrong token: %v, %s", err, stderr)
	}
	// The service removed the run's sandbox.
	if _, err := dc.ContainerInspect(t.Context(), "sablebox-"+viaService.RunID); err == nil {
		t.Errorf("the sandbox of run %s is still there", viaService.RunID)
	}
}
