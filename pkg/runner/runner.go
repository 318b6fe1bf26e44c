package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/audit"
	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/hostdir"
	"github.com/sablebox/sablebox/pkg/seccomp"
	"github.com/sablebox/sablebox/pkg/setting"
)

// MaxToolBytes bounds the size of a tool file.
const MaxToolBytes = 4 << 20

// reapTimeout bounds one sweep for leftovers.
const reapTimeout = 30 * time.Second

// Options configure a Runner. The zero value is usable.
type Options struct {
	// Runtime is "auto" (the default: the first usable of docker, podman,
	// process) or a backend's name.
	Runtime string
	// Image is the sandbox image; image.DefaultTag when empty. An image
	// named here is a requirement: auto then picks only a container
	// backend that has it, never the process sandbox, which runs no images.
	Image string
	// Settings are the backends' own settings, by key (see Settings():
	// docker-host, oci-runtime, process-require, …). A setting that asks
	// for a protection (oci-runtime) is refused by a backend that does not
	// read it, and keeps auto off it; any other is warned about.
	Settings setting.Values
	// HostDirs, when not nil, are the only host directories a request may
	// name as its workspace or output (each with what is below it): a
	// service whose callers are not trusted sets its operator's list, or
	// an empty one to take files by content only. nil (the CLI, a library
	// user) allows any directory the hostdir rules allow.
	HostDirs []string
	// Seccomp is the syscall filter; sablebox's default profile when nil
	// (seccomp.Load reads the others). New refuses a profile that does not
	// parse, and one that is unconfined or allows a high-risk syscall
	// unfiltered unless SeccompUnsafe (see seccomp.Admit).
	Seccomp *sandbox.SeccompProfile
	// SeccompUnsafe is the config's explicit opt-in to such profiles; the
	// runner then warns at start and the result says so.
	SeccompUnsafe bool
	// Audit receives one record per run; none are written when nil.
	Audit *audit.Log
	// Logger receives the runner's logs; it logs nothing when nil.
	Logger logrus.FieldLogger
	// Metrics is the registry the runner and its backends register their
	// metrics on (see pkg/metrics); none are registered when nil.
	Registry prometheus.Registerer
	// Analysis is the static-analysis gate's policy: the zero value scans
	// every tool file and command before it runs and refuses one with a
	// finding of high severity or above (see pkg/analysis).
	Analysis analysis.Policy
	// Pool, when set, keeps warm pools (see pkg/pool): each container
	// backend the runner uses keeps warm sandboxes of the runner's shape
	// (its image, the default limits, its seccomp profile, /output when
	// Pool.Output), and runs that fit take one. For a process that
	// outlives its runs (a service, a library user); nil (the CLI): none.
	Pool *pool.Config
}

// Runner runs tools. It is safe for concurrent use.
type Runner struct {
	opts       Options
	log        logrus.FieldLogger
	metrics    *metrics.Runs
	hostDirs   hostdir.Allowed // nil: any the hostdir rules allow
	imageNamed bool            // the caller named the image: it is required
	gate       *analysis.Gate

	mu         sync.Mutex
	backends   map[string]sandbox.Backend // opened so far, by name
	chosen     sandbox.Backend            // auto's choice, once made
	passedOver []string                   // why auto passed over the ones before it
	reaped     map[string]bool            // backends swept at first use
	pools      map[string]*pool.Pool      // by backend name, with Options.Pool
}

// New returns a Runner. It contacts no engine until the first run.
func New(opts Options) (*Runner, error) {
	if opts.Runtime == "" {
		opts.Runtime = "auto"
	}
	imageNamed := opts.Image != ""
	if !imageNamed {
		opts.Image = image.DefaultTag
	}
	if opts.Seccomp == nil {
		opts.Seccomp = seccomp.DefaultProfile()
	}
	warnings, err := seccomp.Admit(opts.Seccomp, opts.SeccompUnsafe)
	if err != nil {
		return nil, err
	}
	m, err := metrics.New(opts.Registry)
	if err != nil {
		return nil, err
	}
	r := &Runner{opts: opts, log: sandbox.Logger(opts.Logger), metrics: m, imageNamed: imageNamed,
		gate:     analysis.NewGate(opts.Analysis),
		backends: map[string]sandbox.Backend{}, reaped: map[string]bool{}, pools: map[string]*pool.Pool{}}
	for _, w := range warnings {
		r.log.Warn(w)
	}
	if opts.Pool != nil {
		if err := opts.Pool.WithDefaults().Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", sandbox.ErrInvalidSpec, err)
		}
	}
	if opts.HostDirs != nil {
		if r.hostDirs, err = hostdir.NewAllowed(opts.HostDirs); err != nil {
			return nil, fmt.Errorf("%w: %w", sandbox.ErrInvalidSpec, err)
		}
	}
	if opts.Runtime == "auto" {
		return r, nil
	}
	k := find(opts.Runtime)
	if k == nil {
		return nil, fmt.Errorf("%w: unknown runtime %q", sandbox.ErrInvalidSpec, opts.Runtime)
	}
	if why := r.unhonoured(*k); why != "" {
		return nil, fmt.Errorf("%w: the %s backend %s", sandbox.ErrInvalidSpec, k.name, why)
	}
	for _, st := range Settings() {
		if opts.Settings.IsSet(st.Key) && !k.declares(st.Key) {
			r.log.Warnf("%s (%s) applies to %s only; the %s backend ignores it", st.Key, opts.Settings.Get(st.Key),
				strings.Join(st.Backends, " and "), k.name)
		}
	}
	return r, nil
}

// Request is one tool run as a caller describes it.
type Request struct {
	// ToolPath is a tool file on this host; or set Tool or Command.
	ToolPath string
	// Tool is a tool file by content (name, language, bytes): what a
	// service hands over. Its Lang, when empty, is told as for ToolPath.
	Tool *sandbox.ToolFile
	// Lang is ToolPath's language (sandbox.Langs); when empty it is told
	// by the file's #! line, else its extension.
	Lang string
	// Command runs instead of a tool file.
	Command []string
	// Args follow the tool or command.
	Args []string
	// Stdin feeds the tool's standard input; nil means empty.
	Stdin io.Reader
	// Stdout and Stderr, when set, receive the tool's output while it
	// runs, the bytes the Result keeps (see sandbox.Spec).
	Stdout, Stderr io.Writer
	// Env holds extra KEY=VALUE variables.
	Env []string
	// Workspace is a directory mounted read-only at /workspace.
	Workspace string
	// Files are put into /workspace by content instead (see sandbox.File):
	// what a service, a skill or a remote engine hands over.
	Files []sandbox.File
	// Output is a directory on this host that receives what the tool left
	// in /output (Result.Files), written by this process once the run is
	// over: new, or empty and the caller's (see hostdir); it is created if
	// missing. The sandbox never sees it.
	Output string
	// Runtime names the backend for this run ("docker", "podman",
	// "process"), which must honour what the runner was asked for (its
	// image, its demanded settings); "" takes the runner's own choice.
	Runtime string
	// RunID names the run (NewRunID's form: 16 hex digits); a fresh one
	// when empty.
	RunID string
	// Caller names who asked for the run (a service's token name, never
	// its secret), for the audit record.
	Caller string
	// KeepOutput gives the tool /output and returns what it left there in
	// Result.Files alone, with no host directory (Output implies it).
	KeepOutput bool
	// Limits bound the run; zero fields take the defaults.
	Limits sandbox.Limits
}

// Run runs one tool to completion. It always returns a Result, also with
// an error, so that callers can report every run the same way: the Result
// then has StatusError (or StatusBlocked when a policy refused the run).
func (r *Runner) Run(ctx context.Context, req Request) (*sandbox.Result, error) {
	spec := &sandbox.Spec{RunID: req.RunID, Image: r.opts.Image, Seccomp: r.opts.Seccomp}
	if spec.RunID == "" {
		spec.RunID = sandbox.NewRunID()
	}
	log := r.log.WithField("run", spec.RunID)
	res, err := r.run(ctx, spec, req)
	if err != nil {
		res = errorResult(spec, res, err)
	}
	if r.opts.Audit != nil {
		rec := audit.NewRecord(spec, res, err)
		rec.Caller = req.Caller
		if aerr := r.opts.Audit.Append(rec); aerr != nil {
			log.WithError(aerr).Error("audit record lost")
			err = errors.Join(err, aerr)
		}
	}
	allowance := time.Duration(float64(res.Limits.Timeout) * res.Limits.CPUs)
	r.metrics.Finished(res.Backend, string(res.Status), res.Duration, res.CPUTime, allowance)
	log.WithFields(logrus.Fields{
		"backend": res.Backend, "status": res.Status, "exit": res.ExitCode, "duration": res.Duration,
	}).Info("run finished")
	return res, err
}

func (r *Runner) run(ctx context.Context, spec *sandbox.Spec, req Request) (res *sandbox.Result, err error) {
	outDir, err := fillSpec(spec, req, r.hostDirs)
	if err != nil {
		return nil, err
	}
	// The gate judges before anything is made: a refused tool costs no
	// sandbox. (Scanning while a warm sandbox takes the files in was
	// tried: on 2 cores the scan competes with the engine, and the run
	// came out slower, not faster.)
	verdict := r.gate.Check(ctx, gateSubject(spec))
	if verdict.Refuses() {
		a := analysisOf(verdict)
		return &sandbox.Result{Analysis: a}, fmt.Errorf("%w: %s", sandbox.ErrPolicy, a.Note)
	}
	backend, passedOver, err := r.backendFor(ctx, req.Runtime)
	if err != nil {
		return nil, err
	}
	judged := analysisOf(verdict)
	if judged.Verdict == sandbox.VerdictWarned {
		r.log.WithField("run", spec.RunID).Warn(judged.Note)
	}
	defer func() {
		if res != nil {
			res.Analysis = judged
		}
	}()
	if outDir != "" {
		// What the tool left comes back by content; this process writes
		// it, so it is the caller's. A failure to write something is said
		// in the notes: the run, and what the tool printed, still stand.
		defer func() {
			if res == nil || err != nil {
				return
			}
			if werr := writeOutput(outDir, res.Files); werr != nil {
				r.log.WithError(werr).Error("output not fully written")
				res.Notes = append(res.Notes, "output: not everything could be written to "+outDir+": "+werr.Error())
			}
		}()
	}
	spec.PassedOver = passedOver
	reaped := r.reapOnce(backend)
	if p := r.poolFor(backend); p != nil {
		res, err = p.Run(ctx, spec)
	} else {
		res, err = backend.Run(ctx, spec)
	}
	if errors.Is(err, sandbox.ErrUnavailable) && r.opts.Runtime == "auto" && req.Runtime == "" {
		r.forget(backend)
	}
	if reapErr := <-reaped; reapErr != nil && err == nil {
		// When the run failed, its error already tells why the sweep did.
		r.log.WithField("backend", backend.Name()).WithError(reapErr).Warn("reaping leftovers failed")
	}
	if ctx.Err() != nil {
		// Cancelled (SIGINT/SIGTERM): sweep for other leftovers on the way out.
		if reapErr := r.reap(backend); reapErr != nil {
			r.log.WithField("backend", backend.Name()).WithError(reapErr).Warn("reaping leftovers failed")
		}
	}
	if err != nil {
		return &sandbox.Result{Backend: backend.Name(), PassedOver: passedOver}, err
	}
	return res, nil
}

// fillSpec completes spec from req, checking the host paths it names (by
// hostdir's rules, and within allowed unless it is nil), and returns the
// output directory, resolved ("" for none).
func fillSpec(spec *sandbox.Spec, req Request, allowed hostdir.Allowed) (outDir string, err error) {
	spec.Command, spec.Args, spec.Stdin, spec.Env = req.Command, req.Args, req.Stdin, req.Env
	spec.Stdout, spec.Stderr, spec.Files = req.Stdout, req.Stderr, req.Files
	spec.Limits = req.Limits.WithDefaults()
	if req.Lang != "" && req.ToolPath == "" {
		return "", fmt.Errorf("%w: a language (%s) is for a tool file, not a command", sandbox.ErrInvalidSpec, req.Lang)
	}
	if req.ToolPath != "" && req.Tool != nil {
		return "", fmt.Errorf("%w: give a tool file by path or by content, not both", sandbox.ErrInvalidSpec)
	}
	if req.Tool != nil {
		tool := *req.Tool
		if len(tool.Content) > MaxToolBytes {
			return "", fmt.Errorf("%w: the tool is %d bytes; the limit is %d", sandbox.ErrInvalidSpec, len(tool.Content), MaxToolBytes)
		}
		if tool.Lang == "" {
			if tool.Lang, err = sandbox.DetectLang(tool.Name, tool.Content); err != nil {
				return "", err
			}
		}
		spec.Tool = &tool
	}
	spec.Output = req.KeepOutput
	if req.ToolPath != "" {
		if spec.Tool, err = ReadTool(req.ToolPath, req.Lang); err != nil {
			return "", err
		}
	}
	for _, d := range []struct{ what, path string }{{"workspace", req.Workspace}, {"output", req.Output}} {
		if d.path != "" && allowed != nil {
			if err := allowed.Check(d.what, d.path); err != nil {
				return "", hostDirError(err)
			}
		}
	}
	if req.Workspace != "" {
		if spec.Workspace, err = hostdir.Workspace(req.Workspace); err != nil {
			return "", hostDirError(err)
		}
	}
	if req.Output != "" {
		if outDir, err = OutputDir(req.Output); err != nil {
			return "", err
		}
		spec.Output = true
	}
	return outDir, spec.Validate()
}

// OutputDir checks an output directory by hostdir's rules, making it when
// it is missing, and returns it resolved; a refusal wraps ErrPolicy.
func OutputDir(path string) (string, error) {
	dir, _, err := hostdir.Output(path)
	if err != nil {
		return "", hostDirError(err)
	}
	return dir, nil
}

var unsafeNameChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// ReadTool reads the tool file at path (at most MaxToolBytes) with its
// language: lang, or else the one its #! line or extension tells.
func ReadTool(path, lang string) (*sandbox.ToolFile, error) {
	tool, err := readTool(path)
	if err != nil {
		return nil, err
	}
	if tool.Lang = lang; tool.Lang == "" {
		if tool.Lang, err = sandbox.DetectLang(filepath.Base(path), tool.Content); err != nil {
			return nil, err
		}
	}
	return tool, nil
}

func readTool(path string) (*sandbox.ToolFile, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: tool file: %v", sandbox.ErrInvalidSpec, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: tool file %s is not a regular file", sandbox.ErrInvalidSpec, path)
	}
	if st.Size() > MaxToolBytes {
		return nil, fmt.Errorf("%w: tool file %s is %d bytes; the limit is %d", sandbox.ErrInvalidSpec, path, st.Size(), MaxToolBytes)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: tool file: %v", sandbox.ErrInvalidSpec, err)
	}
	name := strings.TrimLeft(unsafeNameChars.ReplaceAllString(filepath.Base(path), "_"), ".-")
	if name == "" {
		name = "tool"
	}
	return &sandbox.ToolFile{Name: name, Content: content}, nil
}

// hostDirError classes a refused host directory: the safety rules are a
// policy (exit 126), anything else is bad input.
func hostDirError(err error) error {
	if errors.Is(err, hostdir.ErrUnsafe) {
		return fmt.Errorf("%w: %w", sandbox.ErrPolicy, err)
	}
	return fmt.Errorf("%w: %w", sandbox.ErrInvalidSpec, err)
}

// errorResult is the Result of a run that the sandbox could not carry
// out: what partial knew (the backend picked, the notes), and err.
func errorResult(spec *sandbox.Spec, partial *sandbox.Result, err error) *sandbox.Result {
	backend := ""
	if partial != nil {
		backend, spec.PassedOver = partial.Backend, partial.PassedOver
	}
	res := sandbox.NewResult(spec, backend)
	res.Status, res.Reason = sandbox.ErrorStatus(err), err.Error()
	if partial != nil {
		res.Notes, res.Analysis = partial.Notes, partial.Analysis
	}
	res.Finish(0)
	return res
}

// gateSubject is what the static-analysis gate judges of spec: its tool
// file, or its command line.
func gateSubject(spec *sandbox.Spec) analysis.Subject {
	if spec.Tool != nil {
		return analysis.Subject{Lang: spec.Tool.Lang, Source: spec.Tool.Content}
	}
	return analysis.Subject{Command: append(append([]string{}, spec.Command...), spec.Args...)}
}

// analysisOf is the gate's verdict as a result gives it; a refusal is
// the verdict "blocked", with its reason in the note.
func analysisOf(v analysis.Verdict) *sandbox.Analysis {
	out := &sandbox.Analysis{Mode: string(v.Policy.Mode), FailOn: v.Policy.FailOn.String(), Verdict: sandbox.VerdictPassed}
	for _, f := range v.Findings {
		out.Findings = append(out.Findings, sandbox.Finding{Rule: f.Rule, Severity: f.Severity.String(),
			Line: f.Line, Column: f.Column, Text: f.Text, Message: f.Message})
	}
	switch {
	case v.Policy.Mode == analysis.Off:
		out.Verdict, out.FailOn = sandbox.VerdictSkipped, ""
		out.Note = "the static-analysis gate is off (analysis.mode: off): the tool ran unscanned"
	case v.Refuses():
		out.Verdict = sandbox.VerdictBlocked
		out.Note = "the static-analysis gate refused the tool: " + v.Reason() + " (analysis.findings lists them; `sablebox scan` shows them)"
	case v.Reason() != "":
		out.Verdict = sandbox.VerdictWarned
		out.Note = "analysis.mode is warn, so the tool ran although the gate would refuse it: " + v.Reason()
	}
	return out
}

// find returns the backend kind named name, or nil.
func find(name string) *kind {
	for i := range kinds {
		if kinds[i].name == name {
			return &kinds[i]
		}
	}
	return nil
}

// open returns the backend of kind k, opening it on first use.
func (r *Runner) open(k kind) (sandbox.Backend, error) {
	if b, ok := r.backends[k.name]; ok {
		return b, nil
	}
	b, err := k.open(r.opts.Settings, r.log, r.metrics)
	if err != nil {
		return nil, err
	}
	r.backends[k.name] = b
	return b, nil
}

// backendFor returns the backend a request names, or the runner's own
// choice when it names none.
func (r *Runner) backendFor(ctx context.Context, runtime string) (sandbox.Backend, []string, error) {
	if runtime == "" || runtime == r.opts.Runtime {
		return r.backend(ctx)
	}
	k := find(runtime)
	if k == nil {
		return nil, nil, fmt.Errorf("%w: unknown runtime %q (known: %s)", sandbox.ErrInvalidSpec, runtime, strings.Join(Runtimes(), ", "))
	}
	if why := r.unhonoured(*k); why != "" {
		return nil, nil, fmt.Errorf("%w: the %s backend %s", sandbox.ErrPolicy, k.name, why)
	}
	b, err := r.openLocked(*k)
	return b, nil, err
}

// Runtimes lists the backends a request may name, in auto's order.
func Runtimes() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// backend returns the backend to run with: the one named, or auto's pick
// with why the ones before it were passed over. The lock guards only the
// runner's maps, never an engine call: concurrent first runs probe in
// parallel, and the first pick made stands.
func (r *Runner) backend(ctx context.Context) (sandbox.Backend, []string, error) {
	if r.opts.Runtime != "auto" {
		b, err := r.openLocked(*find(r.opts.Runtime))
		return b, nil, err
	}
	r.mu.Lock()
	chosen, passedOver := r.chosen, r.passedOver
	r.mu.Unlock()
	if chosen != nil {
		return chosen, passedOver, nil
	}
	var reasons []string
	for _, c := range kinds {
		if c.named {
			continue
		}
		var b sandbox.Backend
		var err error
		if why := r.unhonoured(c); why != "" {
			err = errors.New("it " + why)
		} else {
			b, err = r.openLocked(c)
		}
		if err == nil {
			err = b.Check(ctx)
		}
		if ib, ok := b.(sandbox.ImageBackend); ok && err == nil {
			err = ib.ImagePresent(ctx, r.opts.Image)
		}
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", c.name, err))
			r.metrics.PassedOver(c.name)
			r.log.WithField("backend", c.name).WithError(err).Debug("backend passed over")
			continue
		}
		r.mu.Lock()
		if r.chosen == nil {
			r.chosen, r.passedOver = b, reasons
		}
		chosen, passedOver = r.chosen, r.passedOver
		r.mu.Unlock()
		return chosen, passedOver, nil
	}
	if r.imageNamed {
		return nil, nil, fmt.Errorf("%w: no container backend here can run the image %q that was named (%s); "+
			"make it with `sablebox image build --tag %s`, or leave the image unset for the best sandbox here",
			sandbox.ErrImageMissing, r.opts.Image, strings.Join(reasons, "; "), r.opts.Image)
	}
	return nil, nil, fmt.Errorf("%w: no usable sandbox backend here (%s); run `sablebox doctor`",
		sandbox.ErrUnavailable, strings.Join(reasons, "; "))
}

// unhonoured says why backends of kind k cannot honour what the caller
// asked for ("" when they can): an image named for a backend that runs
// none, or a setting that asks for a protection (oci-runtime) that k does
// not read. A named backend is then refused; auto passes it over.
func (r *Runner) unhonoured(k kind) string {
	if r.imageNamed && !k.images {
		return fmt.Sprintf("runs no images, so it cannot honour image %q: drop the image setting or pick --runtime docker or podman", r.opts.Image)
	}
	for _, st := range Settings() {
		if st.Demand && r.opts.Settings.Get(st.Key) != "" && !k.declares(st.Key) {
			return fmt.Sprintf("does not honour %s %q, which only %s read: drop that setting or pick --runtime %s",
				st.Key, r.opts.Settings.Get(st.Key), strings.Join(st.Backends, " and "), st.Backends[0])
		}
	}
	return ""
}

// openLocked is open under the runner's lock.
func (r *Runner) openLocked(c kind) (sandbox.Backend, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open(c)
}

// forget drops auto's pick when b has gone away (its run failed as
// unavailable), so that the next run picks again.
func (r *Runner) forget(b sandbox.Backend) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.chosen == b {
		r.chosen, r.passedOver = nil, nil
	}
}

// reapOnce sweeps backend for leftovers the first time it is used, in the
// background; the returned channel yields the sweep's error when it is over.
func (r *Runner) reapOnce(b sandbox.Backend) <-chan error {
	done := make(chan error, 1)
	r.mu.Lock()
	first := !r.reaped[b.Name()]
	r.reaped[b.Name()] = true
	r.mu.Unlock()
	if !first {
		done <- nil
		return done
	}
	go func() { done <- r.reap(b) }()
	return done
}

// reap removes what dead runs left behind on b.
func (r *Runner) reap(b sandbox.Backend) error {
	ctx, cancel := context.WithTimeout(context.Background(), reapTimeout)
	defer cancel()
	n, err := b.Reap(ctx)
	r.metrics.Reaped(b.Name(), n)
	if n > 0 {
		r.log.WithField("backend", b.Name()).Infof("reaped %d leftovers of dead runs", n)
	}
	return err
}

// Ready returns the name of the backend runs would use now, or why none
// can be used: what a service's readiness check asks.
func (r *Runner) Ready(ctx context.Context) (string, error) {
	b, _, err := r.backend(ctx)
	if err != nil {
		return "", err
	}
	if err := b.Check(ctx); err != nil {
		if r.opts.Runtime == "auto" {
			r.forget(b)
		}
		return "", err
	}
	r.poolFor(b) // a service's pool warms from its first readiness check
	return b.Name(), nil
}

// poolFor is b's warm pool, started on first use; nil without
// Options.Pool or for a backend that warms nothing (the process sandbox,
// whose start costs little).
func (r *Runner) poolFor(b sandbox.Backend) *pool.Pool {
	w, ok := b.(sandbox.Warmer)
	if r.opts.Pool == nil || !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pools[b.Name()]; ok {
		return p
	}
	shape := &sandbox.Spec{Image: r.opts.Image, Limits: sandbox.Limits{}.WithDefaults(), Seccomp: r.opts.Seccomp,
		Output: r.opts.Pool.Output}
	p, err := pool.New(w, shape, *r.opts.Pool, pool.Options{Metrics: r.metrics, Logger: r.log.WithField("backend", b.Name())})
	if err != nil {
		r.log.WithError(err).Error("no warm pool: runs start cold")
		p = nil
	}
	r.pools[b.Name()] = p
	return p
}

// Validate checks req as Run would before anything runs, so that a
// service can refuse a bad request at once instead of in a later result.
// A missing Output directory is created, as Run would.
func (r *Runner) Validate(req Request) error {
	spec := &sandbox.Spec{RunID: "validate", Image: r.opts.Image, Seccomp: r.opts.Seccomp}
	_, err := fillSpec(spec, req, r.hostDirs)
	return err
}

// Doctor describes every backend sablebox knows on this host.
func (r *Runner) Doctor(ctx context.Context) []sandbox.Description {
	var out []sandbox.Description
	for _, c := range kinds {
		b, err := r.openLocked(c)
		if err != nil {
			out = append(out, sandbox.Description{Name: c.name, Reason: err.Error()})
			continue
		}
		d := b.Describe(ctx)
		if ib, ok := b.(sandbox.ImageBackend); ok && d.Usable {
			d.Details["image"] = r.opts.Image + ": present"
			if err := ib.ImagePresent(ctx, r.opts.Image); err != nil {
				d.Details["image"] = err.Error()
			}
		}
		out = append(out, d)
	}
	return out
}

// Close removes the warm pools' sandboxes and closes every backend the
// runner opened.
func (r *Runner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for name, p := range r.pools {
		if p == nil {
			continue
		}
		if err := p.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the %s pool: %w", name, err))
		}
	}
	r.pools = map[string]*pool.Pool{}
	for name, b := range r.backends {
		if err := b.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", name, err))
		}
	}
	r.backends = map[string]sandbox.Backend{}
	return errors.Join(errs...)
}
