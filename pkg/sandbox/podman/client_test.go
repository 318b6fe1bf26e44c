//go:build remote

package podman

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/containers/podman/v5/pkg/specgen"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

// These test the backend's own logic through the client seam, against
// answers a real service gives; the conformance suite runs it live.

// fakeClient answers as it is told and records what it was asked.
type fakeClient struct {
	info      *define.Info
	createErr error
	warnings  []string
	runtime   string                          // the OCI runtime the created container reports
	states    []*define.InspectContainerState // successive states Inspect reports
	killErr   error
	dial      func() (net.Conn, error)

	mu      sync.Mutex
	removed []string
	started bool
}

func (f *fakeClient) Info(context.Context) (*define.Info, error)        { return f.info, nil }
func (f *fakeClient) ImageExists(context.Context, string) (bool, error) { return true, nil }
func (f *fakeClient) List(context.Context, string) ([]types.ListContainer, error) {
	return nil, nil
}
func (f *fakeClient) Create(_ context.Context, s *specgen.SpecGenerator) (types.ContainerCreateResponse, error) {
	if f.createErr != nil {
		return types.ContainerCreateResponse{}, f.createErr
	}
	return types.ContainerCreateResponse{ID: "c1", Warnings: f.warnings}, nil
}
func (f *fakeClient) CopyInto(context.Context, string, string, io.Reader) error { return nil }
func (f *fakeClient) CopyFrom(context.Context, string, string, io.Writer) error { return nil }
func (f *fakeClient) Dial(context.Context) (net.Conn, error) {
	if f.dial == nil {
		return nil, errors.New("no attach here")
	}
	return f.dial()
}
func (f *fakeClient) Start(context.Context, string) error { f.started = true; return nil }
func (f *fakeClient) Inspect(context.Context, string) (*define.InspectContainerData, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data := &define.InspectContainerData{OCIRuntime: f.runtime, State: &define.InspectContainerState{Status: "running"}}
	if len(f.states) > 0 {
		data.State = f.states[0]
		if len(f.states) > 1 {
			f.states = f.states[1:]
		}
	}
	return data, nil
}
func (f *fakeClient) Kill(context.Context, string) error { return f.killErr }
func (f *fakeClient) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	return nil
}

// httpError is an error with the service's HTTP status, as the bindings
// return them.
// httpError is an error of the service as the bindings give it
// (errorhandling.ErrorModel): a message, a cause and a status.
type httpError struct {
	code  int
	msg   string
	cause string
}

func (e httpError) Error() string { return e.msg }
func (e httpError) Code() int     { return e.code }
func (e httpError) Cause() error  { return errors.New(e.cause) }

func goodInfo() *define.Info {
	return &define.Info{Host: &define.HostInfo{CgroupsVersion: "v2", OCIRuntime: &define.OCIRuntimeInfo{Name: "crun"},
		Security: define.SecurityInfo{SECCOMPEnabled: true}}}
}

func fakeBackend(t *testing.T, f *fakeClient, opts Options) *Backend {
	t.Helper()
	if opts.URI == "" {
		opts.URI = "tcp://podman.invalid:1" // remote: no profile written, no host facts used
	}
	opts.ProfileDir = t.TempDir()
	return newBackendWithClient(opts, f)
}

func testSpec() *sandbox.Spec {
	return &sandbox.Spec{RunID: sandbox.NewRunID(), Image: "img", Command: []string{"true"},
		Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
}

func TestCheckRefusesAServiceThatCannotProtect(t *testing.T) {
	tests := []struct {
		name string
		edit func(*define.Info)
		opts Options
		want string // "" when Check passes
	}{
		{"a service that can", func(*define.Info) {}, Options{}, ""},
		{"no seccomp", func(i *define.Info) { i.Host.Security.SECCOMPEnabled = false }, Options{}, "no seccomp support"},
		{"rootless on cgroup v1", func(i *define.Info) { i.Host.Security.Rootless, i.Host.CgroupsVersion = true, "v1" }, Options{}, "rootless Podman on cgroup v1"},
		{"a default runtime that may skip seccomp", func(i *define.Info) { i.Host.OCIRuntime.Name = "runsc" }, Options{}, "runsc"},
		{"a configured runtime that may skip seccomp", func(*define.Info) {}, Options{OCIRuntime: "kata"}, "kata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := goodInfo()
			tt.edit(info)
			err := fakeBackend(t, &fakeClient{info: info}, tt.opts).Check(context.Background())
			if tt.want == "" && err != nil || tt.want != "" && (!errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("want %q, got %v", tt.want, err)
			}
		})
	}
}

// A create that reports dropped settings, or a container that runs under
// another runtime than asked, is refused and removed before it starts.
func TestWeakContainersAreRefusedAndRemoved(t *testing.T) {
	tests := []struct {
		name string
		f    *fakeClient
		opts Options
		want string
	}{
		{"create warnings", &fakeClient{warnings: []string{"memory limit dropped"}, runtime: "crun"}, Options{}, "memory limit dropped"},
		{"runtime ignored", &fakeClient{runtime: "crun"}, Options{OCIRuntime: "runc"}, "ran crun instead of the requested OCI runtime runc"},
		{"runtime that may skip seccomp", &fakeClient{runtime: "runsc"}, Options{}, "may not apply the seccomp profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fakeBackend(t, tt.f, tt.opts).Run(context.Background(), testSpec())
			if !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want ErrUnavailable with %q, got %v", tt.want, err)
			}
			if tt.f.started || len(tt.f.removed) != 1 || tt.f.removed[0] != "c1" {
				t.Fatalf("started %v, removed %v: want removed, never started", tt.f.started, tt.f.removed)
			}
		})
	}
}

func TestCreateErrorsAreClassified(t *testing.T) {
	b := fakeBackend(t, &fakeClient{}, Options{})
	if err := b.createError("img", "/p.json", httpError{404, "no such image", ""}); !errors.Is(err, sandbox.ErrImageMissing) {
		t.Errorf("404: %v", err)
	}
	// Podman 4.3's answer: 500, with the cause to tell it by.
	if err := b.createError("img", "/p.json", httpError{500, "sablebox-test/nope:1: image not known", "image not known"}); !errors.Is(err, sandbox.ErrImageMissing) {
		t.Errorf("image not known: %v", err)
	}
	if err := b.createError("img", "/p.json", httpError{500, "opening seccomp profile failed: open /p.json: no such file or directory", "no such file or directory"}); !errors.Is(err, sandbox.ErrUnavailable) ||
		!strings.Contains(err.Error(), "cannot read the seccomp profile at /p.json") {
		t.Errorf("missing profile: %v", err)
	}
	if err := b.createError("img", "/p.json", httpError{500, "boom", "boom"}); !strings.Contains(err.Error(), "create container: boom") {
		t.Errorf("other: %v", err)
	}
}

func TestKillOfAnExitedContainerIsNotAnError(t *testing.T) {
	for _, tt := range []struct {
		err error
		ok  bool
	}{
		{nil, true}, {httpError{409, "container state improper", ""}, true}, {httpError{404, "no such container", ""}, true},
		{httpError{500, "can only kill running containers: container state improper", define.ErrCtrStateInvalid.Error()}, true},
		{httpError{500, "boom", "boom"}, false},
	} {
		c := &ctr{b: &Backend{client: &fakeClient{killErr: tt.err}}, id: "c1"}
		if err := c.Kill(context.Background()); (err == nil) != tt.ok {
			t.Errorf("kill answered %v: got %v", tt.err, err)
		}
	}
}

// Wait reads the exit from the container's state as soon as the output
// stream ends, not after a poll interval.
func TestWaitReadsTheStateOnceTheStreamEnds(t *testing.T) {
	drained := make(chan struct{})
	f := &fakeClient{states: []*define.InspectContainerState{{Status: "running"}, {Status: "exited", ExitCode: 3}}}
	c := &ctr{b: &Backend{client: f}, id: "c1", drained: drained}
	close(drained)
	start := time.Now()
	code, err := c.Wait(context.Background())
	if err != nil || code != 3 || time.Since(start) > exitPoll/2 {
		t.Fatalf("code %d, %v, after %v", code, err, time.Since(start))
	}
}

// attach speaks the libpod upgrade: detach keys off, stdin when there is
// one, and the multiplexed stream into the captures.
func TestAttachSpeaksTheUpgrade(t *testing.T) {
	client, server := net.Pipe()
	f := &fakeClient{dial: func() (net.Conn, error) { return client, nil }}
	var query string
	go func() {
		br := bufio.NewReader(server)
		req, err := http.ReadRequest(br)
		if err != nil {
			server.Close()
			return
		}
		query = req.URL.RawQuery
		_, _ = io.WriteString(server, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
		_, _ = stdcopy.NewStdWriter(server, stdcopy.Stdout).Write([]byte("out\n"))
		_, _ = stdcopy.NewStdWriter(server, stdcopy.Stderr).Write([]byte("err"))
		server.Close()
	}()
	var stdout, stderr bytes.Buffer
	c := &ctr{b: &Backend{client: f}, id: "c1"}
	streams, err := c.Attach(context.Background(), strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	<-streams.Drained
	if stdout.String() != "out\n" || stderr.String() != "err" {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	if !strings.Contains(query, "detachKeys=&") && !strings.HasSuffix(query, "detachKeys=") || !strings.Contains(query, "stdin=true") {
		t.Fatalf("attach query %q: want detach keys off and stdin", query)
	}
}

func TestAttachRefusedSaysWhy(t *testing.T) {
	client, server := net.Pipe()
	go func() {
		_, _ = http.ReadRequest(bufio.NewReader(server))
		_, _ = io.WriteString(server, "HTTP/1.1 404 Not Found\r\nContent-Length: 18\r\n\r\nno such container\n")
		server.Close()
	}()
	c := &ctr{b: &Backend{client: &fakeClient{dial: func() (net.Conn, error) { return client, nil }}}, id: "c1"}
	_, err := c.Attach(context.Background(), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "404 Not Found: no such container") {
		t.Fatalf("got %v", err)
	}
}
