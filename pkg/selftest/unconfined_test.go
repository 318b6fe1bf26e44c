package selftest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// unconfined is the weakest sandbox there is, for tests only: the payload
// runs on the host as this process's user, with its environment, and a
// timeout of twice the run's (a sandbox that does not keep its own).
type unconfined struct{ dir string }

func (unconfined) Name() string { return "unconfined" }

func (u unconfined) Run(ctx context.Context, req runner.Request) (*sandbox.Result, error) {
	limits := req.Limits.WithDefaults()
	path := filepath.Join(u.dir, req.Tool.Name)
	if err := os.WriteFile(path, req.Tool.Content, 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*limits.Timeout)
	defer cancel()
	interpreter := sandbox.Interpreter(req.Tool.Lang)
	cmd := exec.CommandContext(ctx, interpreter[0], append(append(interpreter[1:], path), req.Args...)...)
	cmd.Env = append(os.Environ(), req.Env...)
	cmd.Stdin = req.Stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second // a child the payload left keeps the pipes open
	t0 := time.Now()
	err := cmd.Run()
	res := &sandbox.Result{Backend: "unconfined", Limits: limits, Duration: time.Since(t0),
		Stdout: sandbox.Output{Data: stdout.Bytes(), Size: int64(stdout.Len())},
		Stderr: sandbox.Output{Data: stderr.Bytes(), Size: int64(stderr.Len())}}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.Status = sandbox.StatusKilled
	case errors.As(err, &exit):
		res.Finish(exit.ExitCode())
	case err != nil:
		return res, err
	default:
		res.Finish(0)
	}
	return res, nil
}

// Each attack the host can run unharmed is seen to escape a sandbox that
// is no sandbox: its judge can tell an escape. (Run as root, as CI does:
// as another user some of them find nothing to escape with.)
func TestAttacksSeeAnEscape(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the unconfined attacks are judged as root, as CI runs them")
	}
	host, err := NewHost()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	target := unconfined{dir: t.TempDir()}
	n := 0
	for _, a := range Battery {
		if !a.HostSafe {
			continue
		}
		n++
		if o := Attempt(context.Background(), target, host, a); o.Status != Escaped {
			t.Errorf("%s unconfined: %s: %s", a.ID, o.Status, o.Detail)
		}
	}
	t.Logf("%d attacks seen to escape with no sandbox", n)
}
