package engine

import (
	"bytes"
	"io"
	"strconv"
	"sync"
)

// relayHeld is how much a Relay keeps of what comes before it is
// connected.
const relayHeld = 4096

// Relay is an output stream whose destination is set later: a warm
// container's output is read from its start, but belongs to a run only
// once the run is handed over. Before that it keeps the first few KiB
// (what a failed bootstrap said) and drops the rest. Once connected it
// watches for an end mark (see Handoff), which it strips: it holds back
// only bytes that may begin one, so text streams on at once. It never
// fails.
type Relay struct {
	mu      sync.Mutex
	dst     io.Writer
	early   bytes.Buffer
	mark    []byte // the end mark's fixed part; nil: none expected
	partial []byte // held: may be the start of the end mark
	ended   bool
	onEnd   func(code int)
	tail    io.Writer // what follows the end mark; nil: dropped
	// ready is a line that may come before Connect: the bootstrap's
	// word that it waits for its run; onReady is called when it has.
	ready   []byte
	onReady func()
}

// Write passes p to the destination, or holds it until there is one.
func (r *Relay) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.ended:
		if r.tail != nil {
			_, _ = r.tail.Write(p)
		}
	case r.dst == nil:
		if room := relayHeld - r.early.Len(); room > 0 {
			r.early.Write(p[:min(len(p), room)])
		}
		if r.onReady != nil && bytes.Contains(r.early.Bytes(), r.ready) {
			r.onReady()
			r.onReady = nil
			r.early.Reset()
		}
	case r.mark == nil:
		_, _ = r.dst.Write(p)
	case len(r.partial) == 0:
		r.scan(p) // no copy: scan keeps only what it holds back
	default:
		r.scan(append(r.partial, p...))
	}
	return len(p), nil
}

// scan writes buf on, up to an end mark or to bytes that may begin one.
func (r *Relay) scan(buf []byte) {
	r.partial = nil
	for {
		i := bytes.IndexByte(buf, 0) // the mark begins with a NUL
		if i < 0 {
			_, _ = r.dst.Write(buf)
			return
		}
		code, full, partial := matchMark(buf[i:], r.mark)
		switch {
		case full:
			_, _ = r.dst.Write(buf[:i])
			r.ended = true
			r.onEnd(code)
			if rest := buf[i+len(r.mark)+4:]; r.tail != nil && len(rest) > 0 {
				_, _ = r.tail.Write(rest)
			}
			return
		case partial:
			_, _ = r.dst.Write(buf[:i])
			r.partial = append([]byte(nil), buf[i:]...)
			return
		}
		_, _ = r.dst.Write(buf[:i+1])
		buf = buf[i+1:]
	}
}

// matchMark matches b against an end mark: mark, three digits and a
// newline. full: b begins with one (code is its number); partial: b is
// the start of one.
func matchMark(b, mark []byte) (code int, full, partial bool) {
	n := len(mark) + 4
	for j := 0; j < min(len(b), n); j++ {
		switch {
		case j < len(mark):
			if b[j] != mark[j] {
				return 0, false, false
			}
		case j < len(mark)+3:
			if b[j] < '0' || b[j] > '9' {
				return 0, false, false
			}
		case b[j] != '\n':
			return 0, false, false
		}
	}
	if len(b) < n {
		return 0, false, true
	}
	code, _ = strconv.Atoi(string(b[len(mark) : len(mark)+3]))
	return code, true, false
}

// Connect sends what follows to dst, dropping what was held; with a
// mark, it watches for the end mark and calls onEnd with its code.
func (r *Relay) Connect(dst io.Writer, mark []byte, onEnd func(code int)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dst, r.mark, r.onEnd = dst, mark, onEnd
	r.early.Reset()
}

// Flush writes on the bytes held as a possible start of the end mark,
// once the stream has ended without one.
func (r *Relay) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dst != nil && !r.ended && len(r.partial) > 0 {
		_, _ = r.dst.Write(r.partial)
	}
	r.partial = nil
}

// Held is what came before Connect, up to 4 KiB.
func (r *Relay) Held() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.early.String()
}
