package server

import (
	"context"
	"sync"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// run is one run the service knows: queued, running or done.
type run struct {
	id     string
	caller string
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the run is over

	mu     sync.Mutex
	state  string
	result *sandbox.Result
	ended  time.Time
	events []event       // what the tool printed so far, in order
	notify chan struct{} // closed and replaced on each new event
}

// event is one chunk of a stream.
type event struct {
	stream string // stdout or stderr
	data   []byte
}

func newRun(id, caller string, cancel context.CancelCauseFunc) *run {
	return &run{id: id, caller: caller, cancel: cancel, done: make(chan struct{}), state: StateQueued, notify: make(chan struct{})}
}

// streamWriter appends what a stream writes to the run's events. The
// runner writes at most the output cap to it, so the events stay bounded.
type streamWriter struct {
	r      *run
	stream string
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	w.r.events = append(w.r.events, event{w.stream, append([]byte(nil), p...)})
	close(w.r.notify)
	w.r.notify = make(chan struct{})
	w.r.mu.Unlock()
	return len(p), nil
}

func (r *run) setState(s string) {
	r.mu.Lock()
	r.state = s
	r.mu.Unlock()
}

func (r *run) finish(res *sandbox.Result) {
	r.mu.Lock()
	r.state, r.result, r.ended = StateDone, res, time.Now()
	close(r.notify)
	r.notify = make(chan struct{})
	r.mu.Unlock()
	close(r.done)
}

// snapshot is the run's state for an answer.
func (r *run) snapshot() RunState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RunState{ID: r.id, State: r.state, Result: r.result}
}

// eventsFrom returns the events from index i on, whether the run is over,
// and a channel that closes when there is more.
func (r *run) eventsFrom(i int) ([]event, bool, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[i:], r.state == StateDone, r.notify
}

// store keeps the runs: every live one, and finished ones for keep, up
// to keepCount and keepBytes of output in all, the oldest dropped first.
type store struct {
	mu        sync.Mutex
	runs      map[string]*run
	finished  []kept // in the order they ended
	keep      time.Duration
	keepCount int
	keepBytes int64
	bytes     int64 // the output the finished runs hold
}

// kept is a finished run with the output it holds.
type kept struct {
	r    *run
	size int64
}

func newStore(keep time.Duration, keepCount int, keepBytes int64) *store {
	return &store{runs: map[string]*run{}, keep: keep, keepCount: keepCount, keepBytes: keepBytes}
}

// size is the output a finished run holds: its stream events and its
// result's copies of them and of its files.
func (r *run) size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, e := range r.events {
		n += int64(len(e.data))
	}
	if r.result != nil {
		n += int64(len(r.result.Stdout.Data) + len(r.result.Stderr.Data))
		for _, f := range r.result.Files {
			n += int64(len(f.Content))
		}
	}
	return n
}

func (s *store) add(r *run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[r.id] = r
}

func (s *store) get(id string) *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropOld(time.Now())
	return s.runs[id]
}

// ended records that r is over, and drops what is too old or too many.
func (s *store) ended(r *run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := kept{r, r.size()}
	s.finished = append(s.finished, k)
	s.bytes += k.size
	s.dropOld(time.Now())
}

func (s *store) dropOld(now time.Time) {
	for len(s.finished) > 0 {
		oldest := s.finished[0]
		oldest.r.mu.Lock()
		ended := oldest.r.ended
		oldest.r.mu.Unlock()
		if len(s.finished) <= s.keepCount && now.Sub(ended) < s.keep && (s.bytes <= s.keepBytes || len(s.finished) == 1) {
			return
		}
		delete(s.runs, oldest.r.id)
		s.finished = s.finished[1:]
		s.bytes -= oldest.size
	}
}
