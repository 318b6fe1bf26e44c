package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
)

// The API is tested against the real Runner on a real backend (the one
// SABLEBOX_SERVER_BACKEND names, Docker by default), and every answer is
// checked against openapi.yaml, so that the document cannot drift.

const secret = "sbx_test-secret"

func backendName() string {
	if b := os.Getenv("SABLEBOX_SERVER_BACKEND"); b != "" {
		return b
	}
	return "docker"
}

type testServer struct {
	t      *testing.T
	srv    *Server
	http   *httptest.Server
	reg    *prometheus.Registry
	router routers.Router
}

func newTestServer(t *testing.T, opts Options, policy Policy) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := runner.New(runner.Options{Runtime: backendName(), Registry: reg, HostDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if _, err := r.Ready(context.Background()); err != nil {
		sandboxtest.SkipUnlessRequired(t, backendName(), err)
	}
	opts.Runner, opts.Registry = r, reg
	opts.Tokens = append(opts.Tokens, Token{Name: "tester", SHA256: HashToken(secret), Policy: policy})
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: s, http: httptest.NewServer(s), reg: reg, router: apiRouter(t)}
	t.Cleanup(func() {
		ts.http.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ts
}

// apiRouter loads and validates openapi.yaml.
func apiRouter(t *testing.T) routers.Router {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not valid: %v", err)
	}
	doc.Servers = nil // match any host: the test server's is 127.0.0.1:port
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return router
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the token (auth "" sends none) and checks the
// answer against the document.
func (ts *testServer) do(method, path, auth string, body any) answer {
	ts.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		raw, _ = json.Marshal(b)
	}
	req, _ := http.NewRequest(method, ts.http.URL+path, bytes.NewReader(raw))
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	ts.checkAnswer(method, path, resp, got)
	return answer{resp.StatusCode, resp.Header, got}
}

// checkAnswer validates one answer against openapi.yaml.
func (ts *testServer) checkAnswer(method, path string, resp *http.Response, body []byte) {
	ts.t.Helper()
	// A file's path may hold slashes, which an OpenAPI path parameter
	// cannot: match it as one escaped segment, as a client may also send it.
	u, _ := url.Parse("http://localhost" + path)
	if head, file, ok := strings.Cut(u.Path, "/files/"); ok && strings.HasPrefix(head, "/v1/runs/") {
		u.Path = head + "/files/" + url.PathEscape(file)
	}
	req := &http.Request{Method: method, URL: u, Header: http.Header{}}
	route, params, err := ts.router.FindRoute(req)
	if err != nil {
		if resp.StatusCode != http.StatusNotFound {
			ts.t.Errorf("%s %s answered %d but is not in openapi.yaml: %v", method, path, resp.StatusCode, err)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)), Options: in.Options}
	if resp.Header.Get("Content-Type") == "application/x-ndjson" {
		return // one schema per line: checked line by line in the output test
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		ts.t.Errorf("%s %s: the answer (%d %s) does not match openapi.yaml: %v", method, path, resp.StatusCode, body, err)
	}
}

func (a answer) result(t *testing.T) *sandbox.Result {
	t.Helper()
	var res sandbox.Result
	if err := json.Unmarshal(a.body, &res); err != nil {
		t.Fatalf("answer %d %s: %v", a.status, a.body, err)
	}
	return &res
}

func (a answer) state(t *testing.T) RunState {
	t.Helper()
	var st RunState
	if err := json.Unmarshal(a.body, &st); err != nil {
		t.Fatalf("answer %d %s: %v", a.status, a.body, err)
	}
	return st
}

func (a answer) errorCode() string {
	var e ErrorBody
	_ = json.Unmarshal(a.body, &e)
	return e.Error.Code
}

const wordcount = `import sys, collections
words = collections.Counter(sys.stdin.read().split())
for w, n in words.most_common(2):
    print(n, w)
`

func TestRunAndWait(t *testing.T) {
	ts := newTestServer(t, Options{}, Policy{})
	a := ts.do("POST", "/v1/runs", secret, RunRequest{
		Tool: &ToolSource{Source: wordcount, Lang: "python"}, Stdin: "a b a c a b\n", Wait: true,
		Files: []FileContent{{Path: "data/in.txt", Content: "x"}},
	})
	if a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	res := a.result(t)
	if res.Status != sandbox.StatusOK || res.Stdout.String() != "3 a\n2 b\n" || res.Backend != backendName() || len(res.RunID) != 16 {
		t.Fatalf("result %+v", res)
	}
	st := ts.do("GET", "/v1/runs/"+res.RunID, secret, nil).state(t)
	if st.State != StateDone || st.Result == nil || st.Result.Stdout.String() != res.Stdout.String() {
		t.Fatalf("state %+v", st)
	}
}

// The service's runs pass the static-analysis gate: a bad tool's result
// is blocked, exit code 126, with its findings, and nothing ran.
func TestABadToolIsBlocked(t *testing.T) {
	ts := newTestServer(t, Options{}, Policy{})
	a := ts.do("POST", "/v1/runs", secret, RunRequest{
		Tool: &ToolSource{Source: "import subprocess\nsubprocess.run(['id'])\n", Lang: "python"}, Wait: true,
	})
	if a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	res := a.result(t)
	if res.Status != sandbox.StatusBlocked || res.ExitCode != sandbox.ExitBlocked || res.Analysis == nil ||
		res.Analysis.Verdict != sandbox.VerdictBlocked || len(res.Analysis.Findings) != 1 ||
		res.Analysis.Findings[0].Rule != "py.process.subprocess" || res.Stdout.Size != 0 {
		t.Fatalf("result %+v, analysis %+v", res, res.Analysis)
	}
}

func TestAsyncRunStreamsItsOutputAndReturnsItsFiles(t *testing.T) {
	ts := newTestServer(t, Options{}, Policy{})
	a := ts.do("POST", "/v1/runs", secret, RunRequest{Output: true, Tool: &ToolSource{Lang: "python", Source: `
import os, sys, time
print("one", flush=True)
time.sleep(0.5)
sys.stderr.write("two\n")
os.makedirs("/output/sub")
open("/output/sub/r.txt", "w").write("result")
`}})
	if a.status != http.StatusAccepted || a.header.Get("Location") == "" {
		t.Fatalf("%d %s", a.status, a.body)
	}
	id := a.state(t).ID
	// The stream, line by line, while the run goes on.
	req, _ := http.NewRequest("GET", ts.http.URL+"/v1/runs/"+id+"/output", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []OutputLine
	var last []byte
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l OutputLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines, last = append(lines, l), append([]byte(nil), sc.Bytes()...)
	}
	if len(lines) < 3 || *lines[0].Text != "one\n" || lines[0].Stream != "stdout" || lines[len(lines)-1].Result == nil {
		t.Fatalf("stream %+v", lines)
	}
	var end struct {
		Result struct {
			Status string               `json:"status"`
			Files  []sandbox.OutputFile `json:"files"`
		} `json:"result"`
	}
	if err := json.Unmarshal(last, &end); err != nil || end.Result.Status != "ok" ||
		len(end.Result.Files) != 1 || end.Result.Files[0].Path != "sub/r.txt" {
		t.Fatalf("last line %s: %v", last, err)
	}
	f := ts.do("GET", "/v1/runs/"+id+"/files/sub/r.txt", secret, nil)
	if f.status != http.StatusOK || string(f.body) != "result" {
		t.Fatalf("file: %d %q", f.status, f.body)
	}
	if f := ts.do("GET", "/v1/runs/"+id+"/files/nope", secret, nil); f.status != http.StatusNotFound {
		t.Fatalf("missing file: %d", f.status)
	}
}

func TestDeleteKillsTheRun(t *testing.T) {
	ts := newTestServer(t, Options{}, Policy{})
	id := ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"sleep", "60"}}).state(t).ID
	time.Sleep(500 * time.Millisecond)
	st := ts.do("DELETE", "/v1/runs/"+id, secret, nil).state(t)
	if st.State != StateDone || st.Result.Status != sandbox.StatusKilled || st.Result.ExitCode != sandbox.ExitKilled {
		t.Fatalf("after DELETE: %+v", st)
	}
}

// Every bad input is one JSON error with a 4xx, and nothing runs.
func TestBadInputIsA4xx(t *testing.T) {
	ts := newTestServer(t, Options{MaxBodyBytes: 1 << 20}, Policy{})
	ok := RunRequest{Command: []string{"true"}, Wait: true}
	for _, tt := range []struct {
		name   string
		auth   string
		body   any
		status int
		code   string
	}{
		{"no token", "", ok, 401, "unauthorized"},
		{"wrong token", "sbx_wrong", ok, 401, "unauthorized"},
		{"malformed json", secret, []byte(`{"command": [`), 400, "malformed_json"},
		{"empty body", secret, []byte(``), 400, "malformed_json"},
		{"two values", secret, []byte(`{"command":["true"]} {}`), 400, "malformed_json"},
		{"unknown field", secret, []byte(`{"command":["true"],"image":"alpine"}`), 400, "unknown_field"},
		{"privileged is not a field", secret, []byte(`{"command":["true"],"privileged":true}`), 400, "unknown_field"},
		{"body over the limit", secret, RunRequest{Command: []string{"true"}, Stdin: strings.Repeat("x", 2<<20)}, 413, "body_too_large"},
		{"path with ..", secret, RunRequest{Command: []string{"true"}, Files: []FileContent{{Path: "../x"}}}, 400, "invalid_request"},
		{"absolute path", secret, RunRequest{Command: []string{"true"}, Files: []FileContent{{Path: "/etc/passwd"}}}, 400, "invalid_request"},
		{"limit above the ceiling", secret, RunRequest{Command: []string{"true"}, Limits: &Limits{MemoryBytes: 8 << 30}}, 403, "limit_above_ceiling"},
		{"timeout above the ceiling", secret, RunRequest{Command: []string{"true"}, Limits: &Limits{TimeoutSeconds: 3600}}, 403, "limit_above_ceiling"},
		{"nothing to run", secret, RunRequest{}, 400, "invalid_request"},
		{"tool and command", secret, RunRequest{Command: []string{"true"}, Tool: &ToolSource{Source: "x", Lang: "python"}}, 400, "invalid_request"},
		{"unknown language", secret, RunRequest{Tool: &ToolSource{Source: "x", Lang: "ruby"}}, 400, "invalid_request"},
		{"bad base64", secret, RunRequest{Command: []string{"true"}, StdinBase64: "!!"}, 400, "invalid_request"},
		{"reserved env", secret, RunRequest{Command: []string{"true"}, Env: []string{"PATH=/evil"}}, 400, "invalid_request"},
		{"unknown runtime", secret, []byte(`{"command":["true"],"runtime":"lxc"}`), 400, "unknown_runtime"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := ts.do("POST", "/v1/runs", tt.auth, tt.body)
			if a.status != tt.status || a.errorCode() != tt.code {
				t.Fatalf("got %d %s, want %d %s", a.status, a.body, tt.status, tt.code)
			}
		})
	}
	if a := ts.do("GET", "/v1/nothing", secret, nil); a.status != 404 || a.errorCode() != "not_found" {
		t.Errorf("unknown endpoint: %d %s", a.status, a.body)
	}
	if a := ts.do("GET", "/v1/runs/0123456789abcdef", secret, nil); a.status != 404 {
		t.Errorf("unknown run: %d %s", a.status, a.body)
	}
}

// A token restricted to some backends runs on them, and may not name another.
func TestATokensBackends(t *testing.T) {
	ts := newTestServer(t, Options{}, Policy{Backends: []string{"process"}})
	a := ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"true"}, Wait: true})
	if a.status != 200 || a.result(t).Backend != "process" {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if a := ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"true"}, Runtime: "docker"}); a.status != 403 || a.errorCode() != "runtime_not_allowed" {
		t.Fatalf("another backend: %d %s", a.status, a.body)
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	ts := newTestServer(t, Options{}, Policy{Rate: 0.01, Burst: 1})
	if a := ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"true"}, Wait: true}); a.status != 200 {
		t.Fatalf("first: %d %s", a.status, a.body)
	}
	a := ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"true"}, Wait: true})
	if a.status != http.StatusTooManyRequests || a.errorCode() != "rate_limited" || a.header.Get("Retry-After") == "" {
		t.Fatalf("second: %d %v %s", a.status, a.header, a.body)
	}
}

// A flood beyond the slots and the queue gets 429s, never unbounded
// memory, while every run taken returns its result.
func TestAFullQueueAnswers429AndLosesNothing(t *testing.T) {
	ts := newTestServer(t, Options{MaxConcurrent: 1, MaxQueued: 2}, Policy{Rate: 1000, Burst: 1000})
	const clients = 8
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"sh", "-c", fmt.Sprintf("sleep 0.3; echo %d", i)}, Wait: true})
			mu.Lock()
			defer mu.Unlock()
			codes[a.status]++
			if a.status == 200 {
				if res := a.result(t); res.Status != sandbox.StatusOK || res.Stdout.String() != fmt.Sprintf("%d\n", i) {
					t.Errorf("client %d: %+v", i, res)
				}
			}
		}()
	}
	wg.Wait()
	if codes[200]+codes[429] != clients || codes[429] == 0 || codes[200] < 3 {
		t.Fatalf("answers by status %v: want at least 3 results and the rest 429", codes)
	}
}

// Shutdown lets a run finish within its deadline, cancels one that
// outlives it (killed, cleaned up), and takes no new runs meanwhile.
func TestShutdownCancelsWhatOutlivesItsDeadline(t *testing.T) {
	ts := newTestServer(t, Options{}, Policy{})
	id := ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"sleep", "60"}}).state(t).ID
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.srv.Shutdown(ctx); err == nil {
		t.Error("shutdown said nothing of the run it cancelled")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	st := ts.do("GET", "/v1/runs/"+id, secret, nil).state(t)
	if st.State != StateDone || st.Result.Status != sandbox.StatusKilled {
		t.Fatalf("the run after shutdown: %+v %+v", st, st.Result)
	}
	if a := ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"true"}}); a.status != 503 || a.errorCode() != "shutting_down" {
		t.Fatalf("a run during shutdown: %d %s", a.status, a.body)
	}
}

func TestHealthReadyMetricsAndTheDocument(t *testing.T) {
	ts := newTestServer(t, Options{}, Policy{})
	if a := ts.do("GET", "/healthz", "", nil); a.status != 200 {
		t.Fatalf("healthz %d", a.status)
	}
	if a := ts.do("GET", "/readyz", "", nil); a.status != 200 || !strings.Contains(string(a.body), backendName()) {
		t.Fatalf("readyz %d %s", a.status, a.body)
	}
	ts.do("POST", "/v1/runs", "", RunRequest{Command: []string{"true"}})
	ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"true"}, Wait: true})
	m := string(ts.do("GET", "/metrics", "", nil).body)
	for _, want := range []string{
		fmt.Sprintf(`sablebox_tool_executions_total{backend=%q,status="ok"} 1`, backendName()),
		`sablebox_requests_rejected_total{reason="auth"} 1`, "sablebox_runs_in_flight 0", "sablebox_queue_depth 0",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if a := ts.do("GET", "/v1/openapi.yaml", "", nil); a.status != 200 || !bytes.Equal(a.body, OpenAPI) {
		t.Errorf("openapi.yaml: %d", a.status)
	}
}
