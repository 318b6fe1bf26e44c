// Package server is sablebox as an HTTP service: an http.Handler over one
// runner.Runner, described by openapi.yaml. Clients send content (a tool's
// source, files, stdin, limits within their token's ceiling), never host
// paths or engine settings; the operator's configuration decides those.
package server

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// OpenAPI is the API's description, served at GET /v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Options configure a Server.
type Options struct {
	// Runner runs the tools; the server does not close it.
	Runner *runner.Runner
	// Tokens are the clients; at least one is required.
	Tokens []Token
	// MaxBodyBytes bounds a request body (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// MaxConcurrent runs at once (the number of CPUs when 0), and
	// MaxQueued more waiting (4 × MaxConcurrent when 0); beyond that a
	// request is answered 429.
	MaxConcurrent, MaxQueued int
	// KeepFinished is how long a finished run stays readable (10 minutes
	// when 0), KeepCount how many at most (1000 when 0), and KeepBytes how
	// much output, files included, they may hold in all (256 MiB when 0).
	KeepFinished time.Duration
	KeepCount    int
	KeepBytes    int64
	// Registry receives the server's metrics and serves /metrics (give
	// the one the Runner registers on); a private one when nil.
	Registry *prometheus.Registry
	// Logger receives the server's logs; it logs nothing when nil.
	Logger logrus.FieldLogger
}

// DefaultMaxBodyBytes holds the largest workspace (sandbox.MaxFileBytes)
// in base64, and the rest of a request.
const DefaultMaxBodyBytes = sandbox.MaxFileBytes/3*4 + 8<<20

// Server answers the API. Create it with New.
type Server struct {
	opts    Options
	log     logrus.FieldLogger
	tokens  *tokenTable
	runs    *store
	slots   chan struct{} // a run holds one while it runs
	waiting atomic.Int64  // runs admitted and not yet over
	mux     *http.ServeMux

	base     context.Context // the runs' parent; cancelled by Shutdown's deadline
	stopRuns context.CancelCauseFunc
	closing  atomic.Bool
	startMu  sync.Mutex     // orders a run's start against Shutdown's closing
	wg       sync.WaitGroup // every run's goroutine

	readyMu   sync.Mutex // guards the last readiness answer
	readyAt   time.Time
	readyName string
	readyErr  error

	inFlight prometheus.Gauge
	queued   prometheus.Gauge
	rejected *prometheus.CounterVec
}

// New returns a Server over opts.Runner.
func New(opts Options) (*Server, error) {
	if opts.Runner == nil {
		return nil, errors.New("server: no runner")
	}
	tokens, err := newTokenTable(opts.Tokens)
	if err != nil {
		return nil, err
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = runtime.NumCPU()
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 4 * opts.MaxConcurrent
	}
	if opts.KeepFinished <= 0 {
		opts.KeepFinished = 10 * time.Minute
	}
	if opts.KeepCount <= 0 {
		opts.KeepCount = 1000
	}
	if opts.KeepBytes <= 0 {
		opts.KeepBytes = 256 << 20
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	s := &Server{opts: opts, log: sandbox.Logger(opts.Logger), tokens: tokens,
		runs: newStore(opts.KeepFinished, opts.KeepCount, opts.KeepBytes), slots: make(chan struct{}, opts.MaxConcurrent)}
	s.base, s.stopRuns = context.WithCancelCause(context.Background())
	if err := s.registerMetrics(opts.Registry); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) registerMetrics(reg *prometheus.Registry) error {
	s.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sablebox_runs_in_flight", Help: "Runs running now."})
	s.queued = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sablebox_queue_depth", Help: "Runs admitted and waiting for a slot."})
	s.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sablebox_requests_rejected_total",
		Help: "Requests refused, by reason (auth, rate, queue, validation, shutdown)."}, []string{"reason"})
	for _, c := range []prometheus.Collector{s.inFlight, s.queued, s.rejected} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register server metrics: %w", err)
		}
	}
	for _, reason := range []string{"auth", "rate", "queue", "validation", "shutdown"} {
		s.rejected.WithLabelValues(reason) // present at 0, for rate() in alerts
	}
	return nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/runs", s.authed(s.createRun))
	m.HandleFunc("GET /v1/runs/{id}", s.authed(s.getRun))
	m.HandleFunc("DELETE /v1/runs/{id}", s.authed(s.cancelRun))
	m.HandleFunc("GET /v1/runs/{id}/output", s.authed(s.streamOutput))
	m.HandleFunc("GET /v1/runs/{id}/files/{path...}", s.authed(s.getFile))
	m.HandleFunc("GET /v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(OpenAPI)
	})
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", s.ready)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, code: "not_found",
			message: fmt.Sprintf("no such endpoint: %s %s (see /v1/openapi.yaml)", r.Method, r.URL.Path)})
	})
	s.mux = m
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// authed runs h with the request's token, or answers 401.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, int)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.tokens.authenticate(r)
		if err != nil {
			s.rejected.WithLabelValues("auth").Inc()
			writeError(w, err)
			return
		}
		h(w, r, tok)
	}
}

// errShuttingDown answers every request for a run once Shutdown began.
var errShuttingDown = &apiError{status: http.StatusServiceUnavailable, code: "shutting_down",
	message: "the service is shutting down: retry on another instance"}

func (s *Server) reject(w http.ResponseWriter, reason string, err error) {
	s.rejected.WithLabelValues(reason).Inc()
	writeError(w, err)
}

func (s *Server) createRun(w http.ResponseWriter, r *http.Request, tok int) {
	if s.closing.Load() {
		s.reject(w, "shutdown", errShuttingDown)
		return
	}
	body, err := decodeRunRequest(r, s.opts.MaxBodyBytes)
	if err != nil {
		s.reject(w, "validation", err)
		return
	}
	token := s.tokens.tokens[tok]
	req, err := body.runnerRequest(&token.Policy)
	if err == nil {
		if verr := s.opts.Runner.Validate(req); verr != nil {
			err = runError(verr)
		}
	}
	if err != nil {
		s.reject(w, "validation", err)
		return
	}
	if err := s.tokens.admit(tok); err != nil {
		s.reject(w, "rate", err)
		return
	}
	if n := s.waiting.Add(1); n > int64(s.opts.MaxConcurrent+s.opts.MaxQueued) {
		s.waiting.Add(-1)
		s.reject(w, "queue", &apiError{status: http.StatusTooManyRequests, code: "queue_full", retryAfter: time.Second,
			message: fmt.Sprintf("%d runs are running or waiting, the most this service takes: retry later", n-1)})
		return
	}
	ctx, cancel := context.WithCancelCause(s.base)
	run := newRun(sandbox.NewRunID(), token.Name, cancel)
	req.Caller, req.RunID = token.Name, run.id
	req.Stdout, req.Stderr = streamWriter{run, "stdout"}, streamWriter{run, "stderr"}
	// A run starts only while the service takes runs: Shutdown, which
	// closes under the same lock, then waits for it.
	s.startMu.Lock()
	if s.closing.Load() {
		s.startMu.Unlock()
		s.waiting.Add(-1)
		cancel(nil)
		s.reject(w, "shutdown", errShuttingDown)
		return
	}
	s.queued.Inc()
	s.wg.Add(1)
	s.startMu.Unlock()
	s.runs.add(run)
	if body.Wait {
		// A client that waits and goes away takes its run with it.
		stop := context.AfterFunc(r.Context(), func() { cancel(errors.New("the client went away")) })
		defer stop()
	}
	go s.execute(ctx, run, req)
	if !body.Wait {
		w.Header().Set("Location", "/v1/runs/"+run.id)
		writeJSON(w, http.StatusAccepted, run.snapshot())
		return
	}
	select {
	case <-run.done:
		writeJSON(w, http.StatusOK, run.snapshot().Result)
	case <-r.Context().Done():
	}
}

// execute waits for a slot and runs req.
func (s *Server) execute(ctx context.Context, run *run, req runner.Request) {
	defer s.wg.Done()
	defer s.waiting.Add(-1)
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		// Cancelled while waiting: the runner makes it a killed run
		// without starting anything.
	}
	s.queued.Dec()
	run.setState(StateRunning)
	s.inFlight.Inc()
	res, err := s.opts.Runner.Run(ctx, req)
	s.inFlight.Dec()
	if err != nil {
		s.log.WithField("run", res.RunID).WithError(err).Warn("run failed")
	}
	run.finish(res)
	s.runs.ended(run)
	run.cancel(nil)
}

// lookup finds a run of the token's, or answers 404: a token sees only
// its own runs.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, tok int) *run {
	run := s.runs.get(r.PathValue("id"))
	if run == nil || run.caller != s.tokens.tokens[tok].Name {
		writeError(w, &apiError{status: http.StatusNotFound, code: "not_found",
			message: fmt.Sprintf("no run %q here (finished runs are kept for %v)", r.PathValue("id"), s.opts.KeepFinished)})
		return nil
	}
	return run
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, tok int) {
	if run := s.lookup(w, r, tok); run != nil {
		writeJSON(w, http.StatusOK, run.snapshot())
	}
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request, tok int) {
	run := s.lookup(w, r, tok)
	if run == nil {
		return
	}
	run.cancel(errors.New("cancelled by DELETE /v1/runs/" + run.id))
	select {
	case <-run.done:
	case <-time.After(30 * time.Second):
	case <-r.Context().Done():
	}
	writeJSON(w, http.StatusOK, run.snapshot())
}

// OutputLine is one line of GET /v1/runs/{id}/output (NDJSON): a chunk of
// a stream as text (or base64 when it is not UTF-8), and, last, the result.
type OutputLine struct {
	Stream string          `json:"stream,omitempty"`
	Text   *string         `json:"text,omitempty"`
	Base64 *string         `json:"base64,omitempty"`
	Result *sandbox.Result `json:"result,omitempty"`
}

// streamOutput writes the run's output as NDJSON while the run goes on,
// from the start (it is bounded by the output cap), then the result.
func (s *Server) streamOutput(w http.ResponseWriter, r *http.Request, tok int) {
	run := s.lookup(w, r, tok)
	if run == nil {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	next := 0
	for {
		events, done, more := run.eventsFrom(next)
		next += len(events)
		for _, e := range events {
			line := OutputLine{Stream: e.stream}
			if utf8.Valid(e.data) {
				text := string(e.data)
				line.Text = &text
			} else {
				b := base64.StdEncoding.EncodeToString(e.data)
				line.Base64 = &b
			}
			if enc.Encode(line) != nil {
				return
			}
		}
		if done {
			_ = enc.Encode(OutputLine{Result: run.snapshot().Result})
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request, tok int) {
	run := s.lookup(w, r, tok)
	if run == nil {
		return
	}
	st := run.snapshot()
	if st.State != StateDone {
		writeError(w, &apiError{status: http.StatusConflict, code: "not_done", message: "the run is not over yet: its files come back when it ends"})
		return
	}
	want := r.PathValue("path")
	for _, f := range st.Result.Files {
		if f.Path == want {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", fmt.Sprint(len(f.Content)))
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.Content))
			return
		}
	}
	writeError(w, &apiError{status: http.StatusNotFound, code: "not_found",
		message: fmt.Sprintf("the run left no file %q in /output (its result lists the files)", want)})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() {
		writeError(w, errShuttingDown)
		return
	}
	backend, err := s.readiness(r.Context())
	if err != nil {
		writeError(w, &apiError{status: http.StatusServiceUnavailable, code: "unavailable", message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "backend": backend})
}

// readyFor is how long a readiness answer stands: /readyz needs no token,
// so it must not cost an engine call per request.
const readyFor = time.Second

// readiness asks the runner whether a backend can run tools, at most once
// a readyFor.
func (s *Server) readiness(ctx context.Context) (string, error) {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	if time.Since(s.readyAt) < readyFor {
		return s.readyName, s.readyErr
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s.readyName, s.readyErr = s.opts.Runner.Ready(ctx)
	s.readyAt = time.Now()
	return s.readyName, s.readyErr
}

// Shutdown stops taking runs and lets those in flight finish until ctx
// ends; then it cancels them (each ends as killed, its sandbox removed)
// and waits for their cleanup. Stop the http.Server's listener first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.startMu.Lock()
	s.closing.Store(true)
	s.startMu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.stopRuns(errors.New("the service is shutting down"))
	<-done
	return fmt.Errorf("runs still in flight at the shutdown deadline were cancelled: %w", ctx.Err())
}
