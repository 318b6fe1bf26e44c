// Package pool keeps warm, one-shot sandboxes ready for the runs of one
// shape (backend, image, OCI runtime, limits, seccomp profile), so a run
// skips the container's start. A warm sandbox gets every protection of a
// cold run, takes exactly one run and is removed after it; a replacement
// starts in the background. A run that does not fit the shape, or finds
// the pool empty, starts cold, and its Result says why.
package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Config sizes a pool. A zero Max, Idle or Refills takes its default.
type Config struct {
	// Min is how many warm sandboxes the pool keeps ready; 0 keeps none
	// until runs come (DefaultMin is what `sablebox serve` keeps).
	Min int `yaml:"min" json:"min"`
	// Max is the most it keeps (default 4): it grows toward Max while
	// runs find it empty, and shrinks back to Min as sandboxes idle out.
	Max int `yaml:"max" json:"max"`
	// Idle is how long a warm sandbox waits for a run before it is
	// replaced (default 2m, at most sandbox.PreparedWait). It bounds, with
	// the shape's timeout, how long a pool's sandboxes outlive a service
	// killed with SIGKILL where no sweep can tell that it died (another
	// pid namespace: a service in a container).
	Idle time.Duration `yaml:"idle" json:"idle"`
	// Refills is the most sandboxes started at once (default 1), so
	// refilling never takes the CPUs from the tools that run.
	Refills int `yaml:"refills" json:"refills"`
	// Output gives the warm sandboxes an /output directory: runs that ask
	// for one fit, the others start cold (a runner's pools; New takes
	// the shape's).
	Output bool `yaml:"output" json:"output"`
}

// Defaults of Config.
const (
	DefaultMin     = 2
	DefaultMax     = 4
	DefaultIdle    = 2 * time.Minute
	DefaultRefills = 1
)

// WithDefaults fills the fields left zero.
func (c Config) WithDefaults() Config {
	if c.Max == 0 {
		c.Max = max(DefaultMax, c.Min)
	}
	if c.Idle == 0 {
		c.Idle = DefaultIdle
	}
	if c.Refills == 0 {
		c.Refills = DefaultRefills
	}
	return c
}

// Validate checks a Config with its defaults filled.
func (c Config) Validate() error {
	switch {
	case c.Min < 0 || c.Max < 1 || c.Min > c.Max:
		return fmt.Errorf("pool: want 0 <= min <= max and max >= 1, got min %d max %d", c.Min, c.Max)
	case c.Max > 64:
		return fmt.Errorf("pool: max %d is more warm sandboxes than a host runs well; want at most 64", c.Max)
	case c.Idle <= 0 || c.Idle > sandbox.PreparedWait:
		return fmt.Errorf("pool: idle %v: want more than 0 and at most %v", c.Idle, sandbox.PreparedWait)
	case c.Refills < 1 || c.Refills > c.Max:
		return fmt.Errorf("pool: refills %d: want 1 to max (%d)", c.Refills, c.Max)
	}
	return nil
}

// Hit is Result.Pool for a run that took a warm sandbox.
const Hit = "hit"

// Reasons for a cold start, after "miss: " in Result.Pool.
const (
	MissEmpty  = "pool empty"
	MissStale  = "warm sandbox stale"
	MissClosed = "pool closed"
)

// Pool is the warm sandboxes of one shape on one backend. Its methods are
// safe from any goroutine.
type Pool struct {
	backend sandbox.Warmer
	shape   *sandbox.Spec
	cfg     Config
	metrics *metrics.Runs
	log     logrus.FieldLogger

	mu      sync.Mutex
	ready   []*warm // oldest first
	warming int
	target  int // between Min and Max
	closed  bool
	fails   int  // starts failed in a row
	waiting bool // for the backoff after a failed start
	wake    chan struct{}
	stop    chan struct{}
	done    sync.WaitGroup // the keeper and the starts
	out     sync.WaitGroup // sandboxes handed out, until removed
}

type warm struct {
	sb   sandbox.Warm
	born time.Time
}

// Options are what a pool reports to.
type Options struct {
	// Metrics are the caller's (nil: none).
	Metrics *metrics.Runs
	// Logger logs failed starts and removals (nil: nothing).
	Logger logrus.FieldLogger
}

// New starts a pool of sandboxes for shape on b and begins to fill it.
// Only shape's image, limits, seccomp profile and Output matter.
func New(b sandbox.Warmer, shape *sandbox.Spec, cfg Config, opts Options) (*Pool, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if shape.Seccomp == nil || shape.Image == "" {
		return nil, fmt.Errorf("%w: a pool's shape needs an image and a seccomp profile", sandbox.ErrInvalidSpec)
	}
	own := sandbox.Shape(shape)
	own.RunID = "" // each sandbox is named by a run ID of its own
	p := &Pool{backend: b, shape: own, cfg: cfg, metrics: opts.Metrics,
		log: sandbox.Logger(opts.Logger), target: cfg.Min, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	p.done.Add(1)
	go p.keep()
	return p, nil
}

// Shape is the spec the pool's sandboxes are made for.
func (p *Pool) Shape() *sandbox.Spec { return sandbox.Shape(p.shape) }

// Run runs spec in a warm sandbox when it fits the pool's shape and one is
// ready, and cold on the backend otherwise; Result.Pool says which. The
// Result and error are as the backend's Run.
func (p *Pool) Run(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err // refused before a sandbox is taken, as a cold run is
	}
	if why := sandbox.Mismatch(p.shape, spec); why != "" {
		return p.cold(ctx, spec, why)
	}
	for {
		w, why := p.take()
		if w == nil {
			return p.cold(ctx, spec, why)
		}
		res, err := w.sb.Run(ctx, spec)
		if errors.Is(err, sandbox.ErrInvalidSpec) {
			go func() { _ = w.sb.Remove() }() // refused before it ran: it goes, unused
		}
		if errors.Is(err, sandbox.ErrWarmStale) {
			p.log.WithError(err).Warn("pool: a warm sandbox went stale at hand-out")
			p.metrics.PoolMiss(p.backend.Name(), missLabel(MissStale))
			continue // nothing of the run started: take the next
		}
		if err != nil {
			return nil, err
		}
		res.Pool = Hit
		p.metrics.PoolHit(p.backend.Name())
		return res, nil
	}
}

// cold runs spec on the backend, and says why in its Result.
func (p *Pool) cold(ctx context.Context, spec *sandbox.Spec, why string) (*sandbox.Result, error) {
	p.metrics.PoolMiss(p.backend.Name(), missLabel(why))
	res, err := p.backend.Run(ctx, spec)
	if res != nil {
		res.Pool = "miss: " + why
	}
	return res, err
}

// missLabel is the metric label of a miss reason: its first word.
func missLabel(why string) string {
	switch why {
	case MissEmpty:
		return "empty"
	case MissStale:
		return "stale"
	case MissClosed:
		return "closed"
	}
	first, _, _ := strings.Cut(why, " ")
	return first
}

// take hands out the oldest ready sandbox that is still alive and young
// enough, or says why there is none; an empty pool grows its target.
func (p *Pool) take() (*warm, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.reportSize()
	if p.closed {
		return nil, MissClosed
	}
	for len(p.ready) > 0 {
		w := p.ready[0]
		p.ready = p.ready[1:]
		if err := p.healthy(w); err != nil {
			p.discard(w, err)
			continue
		}
		p.handedOut(w.sb)
		p.signal()
		return w, ""
	}
	p.target = min(p.target+1, p.cfg.Max)
	p.signal()
	return nil, MissEmpty
}

// healthy is nil for a sandbox that may be handed out.
func (p *Pool) healthy(w *warm) error {
	if age := time.Since(w.born); age > p.cfg.Idle {
		return fmt.Errorf("idle for %v", age.Round(time.Second))
	}
	return w.sb.Alive()
}

// discard removes a sandbox that will not be handed out, in the
// background. p.mu is held.
func (p *Pool) discard(w *warm, why error) {
	p.log.WithError(why).Debug("pool: removing a warm sandbox")
	p.handedOut(w.sb)
	go func() { _ = w.sb.Remove() }()
}

// handedOut tracks a sandbox until it is removed. p.mu is held, so that
// Close, which waits for them, sees every one.
func (p *Pool) handedOut(sb sandbox.Warm) {
	p.out.Add(1)
	go func() {
		defer p.out.Done()
		<-sb.Removed()
	}()
}

// signal wakes the keeper. p.mu may be held.
func (p *Pool) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// keepEvery is how often the keeper looks at the ready sandboxes without
// being woken: a daemon restart or an idle expiry is noticed this soon.
const keepEvery = time.Second

// keep refills the pool to its target, within Refills starts at once,
// and retires sandboxes that died or idled out, until Close.
func (p *Pool) keep() {
	defer p.done.Done()
	tick := time.NewTicker(keepEvery)
	defer tick.Stop()
	for {
		p.tend()
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-tick.C:
		}
	}
}

// tend retires what may not be handed out and starts what is missing.
func (p *Pool) tend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	kept := p.ready[:0]
	for _, w := range p.ready {
		if err := p.healthy(w); err != nil {
			if time.Since(w.born) > p.cfg.Idle && p.target > p.cfg.Min {
				p.target-- // idle: the pool needs fewer
			}
			p.discard(w, err)
			continue
		}
		kept = append(kept, w)
	}
	p.ready = kept
	p.reportSize()
	if p.waiting {
		return // the start that failed schedules the next
	}
	for len(p.ready)+p.warming < p.target && p.warming < p.cfg.Refills {
		p.warming++
		p.done.Add(1)
		go p.start()
	}
}

// Backoff bounds between failed starts (the engine is down, say).
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// start starts one warm sandbox and adds it to the pool.
func (p *Pool) start() {
	defer p.done.Done()
	began := time.Now()
	// Not cancelled by Close: an engine told to stop a create may make
	// the container after all, where nothing would remove it. The start
	// is bounded by the lifecycle's setup timeout; Close waits for it.
	sb, err := p.backend.Warm(context.Background(), p.shape, p.cfg.Idle)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.warming--
	if err != nil {
		p.fails++
		if !p.closed {
			wait := min(minBackoff<<min(p.fails-1, 5), maxBackoff)
			p.log.WithError(err).Warnf("pool: could not start a warm sandbox on %s; trying again in %v", p.backend.Name(), wait)
			p.waiting = true
			p.done.Add(1)
			go p.retryAfter(wait)
		}
		return
	}
	p.fails = 0
	p.metrics.PoolRefilled(p.backend.Name(), time.Since(began))
	if p.closed {
		p.handedOut(sb)
		go func() { _ = sb.Remove() }()
		return
	}
	p.ready = append(p.ready, &warm{sb: sb, born: time.Now()})
	p.reportSize()
	p.signal()
}

// retryAfter lets the keeper start again after d.
func (p *Pool) retryAfter(d time.Duration) {
	defer p.done.Done()
	select {
	case <-p.stop:
	case <-time.After(d):
		p.mu.Lock()
		p.waiting = false
		p.mu.Unlock()
		p.signal()
	}
}

// reportSize reports the ready sandboxes. p.mu is held.
func (p *Pool) reportSize() { p.metrics.PoolSize(p.backend.Name(), len(p.ready)) }

// Size is how many warm sandboxes are ready now.
func (p *Pool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}

// Settle waits until every sandbox handed out or retired has been removed.
func (p *Pool) Settle() { p.out.Wait() }

// Close stops refilling, removes the ready sandboxes and waits for the
// sandboxes handed out to be removed. Runs after Close start cold.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ready := p.ready
	p.ready = nil
	p.reportSize()
	close(p.stop)
	p.mu.Unlock()
	p.done.Wait()
	var errs []error
	for _, w := range ready {
		errs = append(errs, w.sb.Remove())
	}
	p.out.Wait()
	return errors.Join(errs...)
}
