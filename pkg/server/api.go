package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// RunRequest is the body of POST /v1/runs (see openapi.yaml). It names
// what to run and its limits, never how the sandbox is built: images,
// mounts and security options are the operator's.
type RunRequest struct {
	// Tool is a tool file by content; give it or Command.
	Tool *ToolSource `json:"tool,omitempty"`
	// Command runs as given, looked up on the sandbox's PATH.
	Command []string `json:"command,omitempty"`
	// Args follow the tool or the command.
	Args []string `json:"args,omitempty"`
	// Stdin is the tool's standard input as text; StdinBase64 as bytes.
	Stdin       string `json:"stdin,omitempty"`
	StdinBase64 string `json:"stdin_base64,omitempty"`
	// Env holds KEY=VALUE entries for the tool.
	Env []string `json:"env,omitempty"`
	// Files make up a fresh /workspace.
	Files []FileContent `json:"files,omitempty"`
	// Limits bound the run, within the token's ceiling; zero fields take
	// the defaults (or the ceiling, where that is lower).
	Limits *Limits `json:"limits,omitempty"`
	// Runtime names the backend (docker, podman, process) among those the
	// token may use; "" takes the service's choice.
	Runtime string `json:"runtime,omitempty"`
	// Output gives the tool /output; its files come back under
	// GET /v1/runs/{id}/files/{path}.
	Output bool `json:"output,omitempty"`
	// Wait makes the request answer with the result once the run is over
	// (200); without it the answer is 202 and the run's id at once.
	Wait bool `json:"wait,omitempty"`
}

// ToolSource is a tool's source and its language.
type ToolSource struct {
	// Source is the tool's text.
	Source string `json:"source"`
	// Lang is python, sh or bash.
	Lang string `json:"lang"`
}

// FileContent is one workspace file: text, or bytes in base64.
type FileContent struct {
	Path          string `json:"path"`
	Content       string `json:"content,omitempty"`
	ContentBase64 string `json:"content_base64,omitempty"`
	Executable    bool   `json:"executable,omitempty"`
}

// Limits are a request's limits; zero fields are unset.
type Limits struct {
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	MemoryBytes    int64   `json:"memory_bytes,omitempty"`
	CPUs           float64 `json:"cpus,omitempty"`
	Pids           int64   `json:"pids,omitempty"`
	OutputBytes    int64   `json:"output_bytes,omitempty"`
}

// RunState is the answer of GET /v1/runs/{id} and of a request that does
// not wait.
type RunState struct {
	ID string `json:"id"`
	// State is queued, running or done.
	State string `json:"state"`
	// Result is the same object as `sablebox run --json`, once done.
	Result *sandbox.Result `json:"result,omitempty"`
}

// The states of a run.
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateDone    = "done"
)

// ErrorBody is every error answer: {"error": {"code": ..., "message": ...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names what went wrong (Code, for programs) and says what to
// do (Message, for people).
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError is an error answer with its HTTP status.
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration // 429 only
}

func (e *apiError) Error() string { return e.message }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

// writeError writes err as the one JSON error object.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, code: "internal", message: err.Error()}
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(ae.retryAfter.Seconds()+0.999)))
	}
	writeJSON(w, ae.status, ErrorBody{ErrorDetail{Code: ae.code, Message: ae.message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// runError maps an error of the runner to its answer.
func runError(err error) *apiError {
	switch {
	case errors.Is(err, sandbox.ErrInvalidSpec):
		return badRequest("invalid_request", "%v", err)
	case errors.Is(err, sandbox.ErrPolicy):
		return &apiError{status: http.StatusForbidden, code: "refused_by_policy", message: err.Error()}
	case errors.Is(err, sandbox.ErrUnavailable), errors.Is(err, sandbox.ErrImageMissing):
		return &apiError{status: http.StatusServiceUnavailable, code: "unavailable", message: err.Error()}
	default:
		return &apiError{status: http.StatusInternalServerError, code: "internal", message: err.Error()}
	}
}

// decodeRunRequest reads a RunRequest of at most max bytes, refusing
// unknown fields and trailing data.
func decodeRunRequest(r *http.Request, max int64) (*RunRequest, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			message: "send the request as application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, max))
	dec.DisallowUnknownFields()
	var req RunRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "body_too_large",
				message: fmt.Sprintf("the request body is over %d bytes: send fewer or smaller files", max)}
		case errors.Is(err, io.EOF):
			return nil, badRequest("malformed_json", "the request body is empty: send a JSON run request")
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return nil, badRequest("unknown_field", "%s (see /v1/openapi.yaml)", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return nil, badRequest("malformed_json", "the request body is not a valid run request: %v", err)
		}
	}
	if dec.More() {
		return nil, badRequest("malformed_json", "the request body holds more than one JSON value")
	}
	return &req, nil
}

// toolNames name a tool by its language inside the sandbox.
var toolNames = map[string]string{sandbox.LangPython: "tool.py", sandbox.LangSh: "tool.sh", sandbox.LangBash: "tool.bash"}

// runnerRequest turns req into the runner's request under policy's
// ceiling. Everything it takes is content: no host path reaches the runner.
func (req *RunRequest) runnerRequest(p *Policy) (runner.Request, error) {
	var out runner.Request
	switch {
	case req.Tool != nil && len(req.Command) > 0:
		return out, badRequest("invalid_request", "give a tool or a command, not both")
	case req.Tool == nil && len(req.Command) == 0:
		return out, badRequest("invalid_request", "nothing to run: give a tool (source and lang) or a command")
	case req.Tool != nil:
		name, ok := toolNames[req.Tool.Lang]
		if !ok {
			return out, badRequest("invalid_request", "tool lang %q: want python, sh or bash", req.Tool.Lang)
		}
		out.Tool = &sandbox.ToolFile{Name: name, Lang: req.Tool.Lang, Content: []byte(req.Tool.Source)}
	default:
		out.Command = req.Command
	}
	out.Args, out.Env, out.KeepOutput, out.Runtime = req.Args, req.Env, req.Output, req.Runtime
	if req.Runtime != "" {
		if !slices.Contains(runner.Runtimes(), req.Runtime) {
			return out, badRequest("unknown_runtime", "runtime %q: want one of %s", req.Runtime, strings.Join(runner.Runtimes(), ", "))
		}
		if len(p.Backends) > 0 && !slices.Contains(p.Backends, req.Runtime) {
			return out, &apiError{status: http.StatusForbidden, code: "runtime_not_allowed",
				message: fmt.Sprintf("this token may use %s, not %s", strings.Join(p.Backends, ", "), req.Runtime)}
		}
	} else if len(p.Backends) > 0 {
		out.Runtime = p.Backends[0] // a restricted token runs on what it may use
	}
	if req.Stdin != "" && req.StdinBase64 != "" {
		return out, badRequest("invalid_request", "give stdin or stdin_base64, not both")
	}
	stdin := []byte(req.Stdin)
	if req.StdinBase64 != "" {
		var err error
		if stdin, err = base64.StdEncoding.DecodeString(req.StdinBase64); err != nil {
			return out, badRequest("invalid_request", "stdin_base64: %v", err)
		}
	}
	if len(stdin) > 0 {
		out.Stdin = strings.NewReader(string(stdin))
	}
	for i, f := range req.Files {
		content := []byte(f.Content)
		if f.ContentBase64 != "" {
			if f.Content != "" {
				return out, badRequest("invalid_request", "files[%d] (%s): give content or content_base64, not both", i, f.Path)
			}
			var err error
			if content, err = base64.StdEncoding.DecodeString(f.ContentBase64); err != nil {
				return out, badRequest("invalid_request", "files[%d] (%s): content_base64: %v", i, f.Path, err)
			}
		}
		out.Files = append(out.Files, sandbox.File{Path: f.Path, Content: content, Executable: f.Executable})
	}
	limits, err := p.limits(req.Limits)
	if err != nil {
		return out, err
	}
	out.Limits = limits
	return out, nil
}
