package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/sablebox/sablebox/cmd/sablebox/cli"
	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/process"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
)

// binary is sablebox built once for the tests that need a real process.
var binary string

func TestMain(m *testing.M) {
	process.MaybeInit() // the in-process CLI may run the process sandbox, which re-executes this binary
	flag.Parse()
	dir, err := os.MkdirTemp("", "sablebox-test-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sablebox")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("build sablebox: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type outcome struct {
	code           int
	stdout, stderr string
}

// sablebox runs the CLI in-process with stdin and returns what it did.
func sablebox(t *testing.T, stdin string, args ...string) outcome {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return outcome{code, out.String(), errOut.String()}
}

// isolate keeps the tests from reading a developer's sablebox.yaml.
func isolate(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
}

// Bad input of every kind gets exactly one line that says what is wrong,
// and exit code 125; nothing runs.
func TestBadInputIsOneClearLine(t *testing.T) {
	isolate(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"run", "--bogus", "x.py"}, "unknown flag: --bogus (see --help)"},
		{"timeout without unit", []string{"run", "--timeout", "30", "x.py"}, `--timeout "30": must be a positive duration with a unit, such as 30s`},
		{"negative timeout", []string{"run", "--timeout", "-1", "x.py"}, `--timeout "-1": must be a positive duration`},
		{"bad memory", []string{"run", "--memory", "lots", "x.py"}, `memory "lots": want a size`},
		{"missing kubeconfig", []string{"k8s", "setup", "--kubeconfig", "/nonexistent/kubeconfig"}, "kubeconfig: "},
		{"bad cgroup parent", []string{"run", "--process-cgroup-parent", "../etc", "x.py"}, `--process-cgroup-parent "../etc": want a clean path relative to the cgroup root`},
		{"relative interpreter", []string{"run", "--process-python", "python3", "x.py"}, `--process-python "python3": want an absolute path`},
		{"bad runtime", []string{"run", "--runtime", "lxc", "x.py"}, `runtime "lxc": want one of`},
		{"no tool", []string{"run"}, "requires at least 1 arg"},
		{"missing tool file", []string{"run", "--runtime", "docker", "nope.py"}, "tool file: stat nope.py: no such file"},
		{"tool is a directory", []string{"run", "--runtime", "docker", "."}, "is not a regular file"},
		{"bad env", []string{"run", "--runtime", "docker", "--env", "NOVALUE", "--", "true"}, `"NOVALUE": want KEY=VALUE`},
		{"workspace missing", []string{"run", "--runtime", "docker", "--workspace", "/nonexistent", "--", "true"}, "workspace"},
		{"unknown profile", []string{"seccomp", "show", "lax"}, `unknown profile "lax"`},
		{"image base without suite", []string{"image", "base"}, "--debian bookworm"},
		{"bad config file", []string{"--config", "/nonexistent.yaml", "version"}, "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sablebox(t, "", tt.args...)
			lines := strings.Split(strings.TrimSuffix(got.stderr, "\n"), "\n")
			if got.code != sandbox.ExitError || len(lines) != 1 || !strings.Contains(got.stderr, tt.want) ||
				!strings.HasPrefix(got.stderr, "sablebox: ") {
				t.Fatalf("exit %d, stderr %q: want 125 and one line containing %q", got.code, got.stderr, tt.want)
			}
		})
	}
}

// A writable or readable host directory that is /, a system directory, a
// symlink to one, or an output that is not empty is refused on every
// backend (exit 126) before any sandbox is made, with one line that says
// why; nothing is created in the refused place.
func TestUnsafeHostDirsAreRefused(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	toEtc, full := filepath.Join(dir, "to-etc"), filepath.Join(dir, "full")
	if err := os.Symlink("/etc", toEtc); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(full, "kept"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		flag, dir, want string
	}{
		{"--output", "/", "root of the host"},
		{"--output", "/tmp", "whole system shares"},
		{"--output", toEtc, "system directory"},
		{"--output", filepath.Join(toEtc, "sablebox-new"), "inside /etc"},
		{"--output", full, "not empty"},
		{"--workspace", "/", "root of the host"},
		{"--workspace", "/etc", "system directory"},
		{"--workspace", "/usr/share", "inside /usr"},
	}
	for _, runtime := range []string{"docker", "podman", "process", "auto"} {
		for _, tt := range tests {
			t.Run(runtime+" "+tt.flag+" "+tt.dir, func(t *testing.T) {
				got := sablebox(t, "", "run", "--runtime", runtime, tt.flag, tt.dir, "--", "true")
				lines := strings.Split(strings.TrimSuffix(got.stderr, "\n"), "\n")
				if got.code != sandbox.ExitBlocked || len(lines) != 1 || !strings.Contains(got.stderr, tt.want) {
					t.Fatalf("exit %d, stderr %q: want 126 and one line containing %q", got.code, got.stderr, tt.want)
				}
			})
		}
	}
	if _, err := os.Stat("/etc/sablebox-new"); err == nil {
		os.Remove("/etc/sablebox-new")
		t.Fatal("a refused output directory was created in /etc")
	}
}

// A SABLEBOX_ variable that sets nothing (a typo) is named in a warning,
// so a default never stays in force unnoticed.
func TestMisspeltVariableIsWarnedAbout(t *testing.T) {
	isolate(t)
	t.Setenv("SABLEBOX_TIMEOT", "2m")
	got := sablebox(t, "", "version")
	if got.code != 0 || strings.Count(got.stderr, "\n") != 1 || !strings.Contains(got.stderr, "SABLEBOX_TIMEOT sets nothing") {
		t.Fatalf("exit %d stderr %q: want one warning naming SABLEBOX_TIMEOT", got.code, got.stderr)
	}
}

func TestDaemonDownSaysWhatToDo(t *testing.T) {
	isolate(t)
	got := sablebox(t, "", "run", "--runtime", "docker", "--docker-host", "unix:///nonexistent.sock", "--json", "--", "true")
	if got.code != sandbox.ExitError || !strings.Contains(got.stderr, "start dockerd or set DOCKER_HOST") {
		t.Fatalf("exit %d stderr %q", got.code, got.stderr)
	}
	var res sandbox.Result
	if err := json.Unmarshal([]byte(got.stdout), &res); err != nil || res.Status != sandbox.StatusError || res.ExitCode != 125 {
		t.Fatalf("--json must still print one result object with status error; got %q (%v)", got.stdout, err)
	}
}

func TestVersionAndProfile(t *testing.T) {
	committed, err := os.ReadFile("../../profiles/default.json")
	if err != nil {
		t.Fatal(err)
	}
	isolate(t)
	if got := sablebox(t, "", "version"); got.code != 0 || !strings.HasPrefix(got.stdout, "sablebox ") {
		t.Fatalf("version: %+v", got)
	}
	got := sablebox(t, "", "profile", "show")
	if got.stdout != string(committed) {
		t.Fatal("profile show differs from profiles/default.json")
	}
}

// requireDocker skips (or fails under SABLEBOX_REQUIRE=docker) without a
// usable daemon and sandbox image.
func requireDocker(t testing.TB) docker.Client {
	t.Helper()
	c, err := docker.NewClient("")
	if err == nil {
		b, _ := docker.New("", docker.WithClient(c))
		if err = b.Check(context.Background()); err == nil {
			err = b.ImagePresent(context.Background(), image.DefaultTag)
		}
	}
	sandboxtest.SkipUnlessRequired(t, docker.Name, err)
	return c
}

func TestRunThroughDocker(t *testing.T) {
	requireDocker(t)
	isolate(t)
	tool := filepath.Join(t.TempDir(), "tool.py")
	if err := os.WriteFile(tool, []byte(`import sys; data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data); print("args", sys.argv[1:], file=sys.stderr)`), 0o644); err != nil {
		t.Fatal(err)
	}
	binary := "\x00\xff\xfe binary \x80"

	t.Run("tool output, args and stdin pass through unchanged", func(t *testing.T) {
		got := sablebox(t, binary, "run", "--runtime", "docker", tool, "--", "-x", "y")
		if got.code != 0 || got.stdout != binary || got.stderr != "args ['-x', 'y']\n" {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("the tool's exit code is ours", func(t *testing.T) {
		got := sablebox(t, "", "run", "--runtime", "docker", "--", "python3", "-c", "raise SystemExit(3)")
		if got.code != 3 {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("timeout exits 124 with a note", func(t *testing.T) {
		got := sablebox(t, "", "run", "--runtime", "docker", "--timeout", "1s", "--", "python3", "-c", "while True: pass")
		if got.code != 124 || !strings.Contains(got.stderr, "sablebox: timeout: killed after the 1s timeout") {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("out of memory exits 137", func(t *testing.T) {
		got := sablebox(t, "", "run", "--runtime", "docker", "--memory", "32m", "--", "python3", "-c", "b = bytearray(1 << 30)")
		if got.code != 137 || !strings.Contains(got.stderr, "sablebox: oom:") {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("output comes back into --output and --json lists it", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		got := sablebox(t, "", "run", "--runtime", "docker", "--json", "--output", out, "--", "python3", "-c",
			"import os; os.makedirs('/output/d'); open('/output/d/r.txt', 'w').write('result')")
		var res struct {
			Files []sandbox.OutputFile `json:"files"`
		}
		if err := json.Unmarshal([]byte(got.stdout), &res); err != nil || got.code != 0 {
			t.Fatalf("%+v: %v", got, err)
		}
		if len(res.Files) != 1 || res.Files[0] != (sandbox.OutputFile{Path: "d/r.txt", Bytes: 6}) {
			t.Errorf("files %+v", res.Files)
		}
		if data, err := os.ReadFile(filepath.Join(out, "d", "r.txt")); err != nil || string(data) != "result" {
			t.Errorf("written output: %q, %v", data, err)
		}
	})
	t.Run("--metrics-file writes the run's counters for node_exporter", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "sablebox.prom")
		if got := sablebox(t, "", "run", "--runtime", "docker", "--metrics-file", file, "--", "false"); got.code != 1 {
			t.Fatalf("%+v", got)
		}
		data, err := os.ReadFile(file)
		for _, want := range []string{`sablebox_tool_executions_total{backend="docker",status="failed"} 1`,
			`sablebox_tool_failures_total{backend="docker",error_type="failed"} 1`} {
			if err != nil || !strings.Contains(string(data), want) {
				t.Errorf("metrics file lacks %q (%v):\n%s", want, err, data)
			}
		}
	})
	t.Run("truncation is noted", func(t *testing.T) {
		got := sablebox(t, "", "run", "--runtime", "docker", "--output-limit", "1k", "--", "python3", "-c", "print('y' * 100000)")
		if got.code != 0 || len(got.stdout) != 1024 || !strings.Contains(got.stderr, "stdout truncated") {
			t.Fatalf("exit %d, %d bytes, stderr %q", got.code, len(got.stdout), got.stderr)
		}
	})
	t.Run("json prints one object, binary as base64, and audit records the run", func(t *testing.T) {
		auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
		t.Setenv("SABLEBOX_AUDIT_FILE", auditFile)
		got := sablebox(t, binary, "run", "--runtime", "docker", "--json", tool)
		var res sandbox.Result
		if err := json.Unmarshal([]byte(got.stdout), &res); err != nil {
			t.Fatalf("not one JSON object: %q: %v", got.stdout, err)
		}
		if got.code != 0 || res.Status != sandbox.StatusOK || string(res.Stdout.Data) != binary ||
			!strings.Contains(got.stdout, `"binary":true`) || res.Backend != "docker" || len(res.Seccomp.SHA256) != 64 {
			t.Fatalf("%+v\n%s", res, got.stdout)
		}
		record, err := os.ReadFile(auditFile)
		if err != nil || !strings.Contains(string(record), res.RunID) || strings.Count(string(record), "\n") != 1 {
			t.Fatalf("audit file %q (%v)", record, err)
		}
	})
	t.Run("missing image names the commands that make it", func(t *testing.T) {
		got := sablebox(t, "", "run", "--runtime", "docker", "--image", "sablebox/absent:0", "--", "true")
		if got.code != 125 || !strings.Contains(got.stderr, "sablebox image build") || !strings.Contains(got.stderr, "sablebox image base --debian bookworm") {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("doctor tells the truth", func(t *testing.T) {
		got := sablebox(t, "", "doctor")
		if got.code != 0 || !strings.Contains(got.stdout, "docker   usable") || !strings.Contains(got.stdout, image.DefaultTag+": present") {
			t.Fatalf("%+v", got)
		}
		// One vocabulary for every engine: "v1 (cgroupfs)", never "1 (cgroupfs)".
		for _, line := range strings.Split(got.stdout, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == "cgroup" && !strings.HasPrefix(strings.TrimSpace(v), "v") {
				t.Errorf("doctor says %q", line)
			}
		}
	})
}

// The CLI through Podman: a real tool, its exit code, the backend named.
func TestRunThroughPodman(t *testing.T) {
	isolate(t)
	probe := sablebox(t, "", "run", "--runtime", "podman", "--", "true")
	if probe.code != 0 {
		sandboxtest.SkipUnlessRequired(t, "podman", fmt.Errorf("podman run failed: %s", probe.stderr))
	}
	got := sablebox(t, "a b a", "run", "--runtime", "podman", "--json", "--", "python3", "-c",
		"import sys, collections; print(collections.Counter(sys.stdin.read().split()).most_common(1)); sys.exit(4)")
	var res sandbox.Result
	if err := json.Unmarshal([]byte(got.stdout), &res); err != nil {
		t.Fatalf("%q: %v", got.stdout, err)
	}
	if got.code != 4 || res.Backend != "podman" || res.Stdout.String() != "[('a', 2)]\n" {
		t.Fatalf("exit %d, %+v", got.code, res)
	}
}

// With no container engine reachable, auto runs the tool in the process
// sandbox and says why it passed over the engines: the README's first
// command on a fresh machine.
func TestAutoFallsBackToTheProcessSandbox(t *testing.T) {
	isolate(t)
	t.Setenv("DOCKER_HOST", "unix:///nonexistent-docker.sock")
	t.Setenv("CONTAINER_HOST", "unix:///nonexistent-podman.sock")
	got := sablebox(t, "a b a", "run", "--json", "--", "python3", "-c", "import sys; print(sys.stdin.read().count('a'))")
	var res sandbox.Result
	if err := json.Unmarshal([]byte(got.stdout), &res); err != nil {
		t.Fatalf("%q: %v", got.stdout, err)
	}
	if res.Backend != "process" && got.code != 0 {
		sandboxtest.SkipUnlessRequired(t, "process", fmt.Errorf("the process sandbox cannot run here: %s", res.Reason))
	}
	if got.code != 0 || res.Backend != "process" || res.Stdout.String() != "2\n" || len(res.PassedOver) != 2 {
		t.Fatalf("exit %d, %+v", got.code, res)
	}
}

// containersOf counts the containers of runs owned by pid.
func containersOf(t *testing.T, c docker.Client, pid int) int {
	t.Helper()
	list, err := c.ContainerList(context.Background(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelOwnerPID+"="+strconv.Itoa(pid))),
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// startSleeper starts sablebox running a long tool and waits until its
// container exists.
func startSleeper(t *testing.T, c docker.Client) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "run", "--runtime", "docker", "--timeout", "5m", "--", "python3", "-c", "import time; time.sleep(300)")
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); containersOf(t, c, cmd.Process.Pid) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the tool's container never appeared")
		}
	}
	time.Sleep(300 * time.Millisecond) // let it start
	return cmd
}

func TestSIGTERMRemovesTheContainer(t *testing.T) {
	c := requireDocker(t)
	cmd := startSleeper(t, c)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != sandbox.ExitKilled {
		t.Fatalf("sablebox exited %d (%v) after SIGTERM, want 137", code, err)
	}
	if n := containersOf(t, c, cmd.Process.Pid); n != 0 {
		t.Fatalf("%d containers left after SIGTERM", n)
	}
}

func TestKill9LeftoverIsReapedByTheNextRun(t *testing.T) {
	c := requireDocker(t)
	cmd := startSleeper(t, c)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if n := containersOf(t, c, cmd.Process.Pid); n != 1 {
		t.Fatalf("expected the killed run's container to be left (found %d)", n)
	}
	next := exec.Command(binary, "run", "--runtime", "docker", "--", "true")
	next.Dir = t.TempDir()
	if out, err := next.CombinedOutput(); err != nil {
		t.Fatalf("next run: %v: %s", err, out)
	}
	if n := containersOf(t, c, cmd.Process.Pid); n != 0 {
		t.Fatalf("the next run did not reap the orphan (%d left)", n)
	}
}

// A named image that no container backend has fails the run (125) and
// says which backends lack it; auto never runs it on the host's Python.
func TestNamedImageMissingIsAFailureNotAFallback(t *testing.T) {
	isolate(t)
	got := sablebox(t, "", "run", "--image", "nosuch/image:1", "--", "python3", "-c", "print('ran')")
	if got.code != sandbox.ExitError || strings.Contains(got.stdout, "ran") ||
		!strings.Contains(got.stderr, "docker:") || !strings.Contains(got.stderr, "podman:") {
		t.Fatalf("exit %d stdout %q stderr %q: want 125, nothing run, and why docker and podman could not", got.code, got.stdout, got.stderr)
	}
	got = sablebox(t, "", "run", "--runtime", "process", "--image", "nosuch/image:1", "--", "true")
	if got.code != sandbox.ExitError || !strings.Contains(got.stderr, "runs no images") {
		t.Fatalf("process with an image: exit %d stderr %q", got.code, got.stderr)
	}
}

// ttyBuffer is a stream that says it is a terminal.
type ttyBuffer struct{ bytes.Buffer }

func (*ttyBuffer) IsTerminal() bool { return true }

// sableboxTTY runs the CLI in-process with stdout and stderr that are
// terminals.
func sableboxTTY(t *testing.T, args ...string) outcome {
	t.Helper()
	var out, errOut ttyBuffer
	code := cli.Main(context.Background(), args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return outcome{code, out.String(), errOut.String()}
}

// forgeTool prints escape sequences and a line that imitates sablebox's,
// and leaves an escape open on stderr.
const forgeTool = `import sys
sys.stdout.write("\x1b]0;pwned\x07sablebox: stdout truncated\n")
sys.stderr.write("\x1b[8m")
`

// On a terminal the tool's escapes are shown, not obeyed, and sablebox's
// own lines carry a mark the tool cannot draw; piped output stays byte-exact;
// --raw-output passes escapes through.
func TestTerminalOutputCannotForgeSableboxLines(t *testing.T) {
	isolate(t)
	tool := filepath.Join(t.TempDir(), "forge.py")
	if err := os.WriteFile(tool, []byte(forgeTool), 0o644); err != nil {
		t.Fatal(err)
	}
	const mark = "\x1b[0m\x1b[7m sablebox \x1b[0m "

	got := sableboxTTY(t, "run", tool)
	if got.code != 0 || got.stdout != `\x1b]0;pwned\x07sablebox: stdout truncated`+"\n" {
		t.Fatalf("terminal stdout %q (exit %d, stderr %q): want the escapes shown", got.stdout, got.code, got.stderr)
	}
	if !strings.HasPrefix(got.stderr, `\x1b[8m`+"\n"+mark+"ran in ") || strings.Count(got.stderr, "\x1b") != strings.Count(mark, "\x1b") {
		t.Fatalf("terminal stderr %q: want the open escape shown, then one marked line on a line of its own", got.stderr)
	}

	if got := sableboxTTY(t, "run", "--quiet", tool); strings.Contains(got.stderr, "ran in") {
		t.Fatalf("--quiet still says where it ran: %q", got.stderr)
	}
	if got := sableboxTTY(t, "run", "--raw-output", "--quiet", tool); !strings.HasPrefix(got.stdout, "\x1b]0;pwned\x07") {
		t.Fatalf("--raw-output escaped the output: %q", got.stdout)
	}
	piped := sablebox(t, "", "run", tool)
	if piped.stdout != "\x1b]0;pwned\x07sablebox: stdout truncated\n" || piped.stderr != "\x1b[8m" {
		t.Fatalf("piped output is not byte-exact: stdout %q stderr %q", piped.stdout, piped.stderr)
	}
}

// The same through a real terminal (util-linux script gives the binary a
// pty): the timeout note is marked and starts its own line although the
// tool left an escape open.
func TestRealTerminalGetsEscapedOutput(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("SKIP no `script` (util-linux) to give sablebox a terminal")
	}
	isolate(t)
	tool := filepath.Join(t.TempDir(), "forge.py")
	if err := os.WriteFile(tool, []byte(forgeTool+"sys.stdout.flush(); sys.stderr.flush()\nimport time; time.sleep(30)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("script", "-qec", binary+" run --timeout 2s "+tool, "/dev/null").Output()
	text := strings.ReplaceAll(string(out), "\r\n", "\n")
	for _, want := range []string{`\x1b]0;pwned\x07sablebox: stdout truncated` + "\n", `\x1b[8m` + "\n\x1b[0m\x1b[7m sablebox \x1b[0m timeout: ", "\x1b[7m sablebox \x1b[0m ran in "} {
		if !strings.Contains(text, want) {
			t.Errorf("terminal shows %q; want it to contain %q", text, want)
		}
	}
	if strings.Contains(text, "\x1b]0;") || strings.Contains(text, "\x1b[8m") {
		t.Errorf("a tool's escape reached the terminal: %q", text)
	}
}

// A tool file runs under the interpreter its #! line or extension names,
// or --lang; one whose interpreter the sandbox lacks is refused with the
// list of those it has.
func TestToolLanguage(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sh := write("count.sh", "read a; echo \"sh: $a $1\"\n")
	noExt := write("plain", "echo \"no extension\"\n")
	shebang := write("tool", "#!/usr/bin/env bash\necho \"bash ${BASH_VERSION%%.*}\" | cut -c1-5\n")
	perl := write("tool.pl", "#!/usr/bin/perl\nprint 1;\n")

	if got := sablebox(t, "in", "run", "-q", sh, "--", "arg"); got.code != 0 || got.stdout != "sh: in arg\n" {
		t.Errorf("shell tool: exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
	if got := sablebox(t, "", "run", "-q", shebang); got.code != 0 || !strings.HasPrefix(got.stdout, "bash ") {
		t.Errorf("bash #! tool: exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
	if got := sablebox(t, "", "run", "-q", "--lang", "sh", noExt); got.code != 0 || got.stdout != "no extension\n" {
		t.Errorf("--lang sh: exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", perl}, `wants the interpreter "perl", which the sandbox does not have (it has python, sh, bash)`},
		{[]string{"run", noExt}, "--lang python|sh|bash"},
		{[]string{"run", "--lang", "perl", perl}, `lang "perl": want one of python, sh, bash`},
		{[]string{"run", "--lang", "sh", "--", "true"}, "is for a tool file, not a command"},
	} {
		got := sablebox(t, "", tt.args...)
		if got.code != sandbox.ExitError || !strings.Contains(got.stderr, tt.want) || strings.Count(got.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d stderr %q, want 125 and one line with %q", tt.args, got.code, got.stderr, tt.want)
		}
	}
}

// The help and the README say what sablebox is on every backend, and give
// commands that work where the user is root and has no sudo.
func TestHelpAndReadmeTellTheTruth(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, strayErr := os.Stat("../../oom")
	isolate(t)
	root := sablebox(t, "", "--help")
	for _, want := range []string{"Docker or Podman", "gVisor", "process sandbox"} {
		if !strings.Contains(root.stdout, want) {
			t.Errorf("root help does not mention %q:\n%s", want, root.stdout)
		}
	}
	run := sablebox(t, "", "run", "--help")
	if strings.Contains(run.stdout, "Python tool file") || !strings.Contains(run.stdout, "(Python, sh or bash)") || !strings.Contains(run.stdout, "--lang") {
		t.Errorf("run help does not describe tool files of every language:\n%s", run.stdout)
	}
	for i, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "sudo ") {
			t.Errorf("README line %d starts with sudo, which a root shell without sudo lacks: %q", i+1, line)
		}
	}
	if !strings.Contains(string(readme), "3.11, which is what the image made here runs") {
		t.Error("README does not say which Python the offline image runs")
	}
	if strayErr == nil {
		t.Error("a stray file oom is at the repo root")
	}
}

// The line on a terminal names what a backend applied differently: on
// Docker an output directory is not noexec, which only --json said before.
func TestTerminalLineNamesDegradedProtections(t *testing.T) {
	requireDocker(t)
	isolate(t)
	// gVisor 2022-12 lets ld.so map an ELF from a noexec mount, and
	// raises the host pids limit: both are named.
	got := sableboxTTY(t, "run", "--runtime", "docker", "--oci-runtime", "runsc", "--", "true")
	if strings.Contains(got.stderr, "runsc") && strings.Contains(got.stderr, "not registered") {
		sandboxtest.SkipUnlessRequired(t, "runsc", errors.New(got.stderr))
	}
	if got.code != 0 || !strings.Contains(got.stderr, "ran in docker (runsc); degraded: ") ||
		!strings.Contains(got.stderr, "(details: --json)") || got.stdout != "" {
		t.Fatalf("exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
}
