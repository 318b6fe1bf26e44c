package server

import (
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Finished runs are dropped, oldest first, past the count, the age or the
// bytes the store may keep; a live run never is.
func TestTheStoreIsBounded(t *testing.T) {
	finish := func(s *store, id string, out int) *run {
		r := newRun(id, "c", func(error) {})
		s.add(r)
		_, _ = streamWriter{r, "stdout"}.Write(make([]byte, out))
		r.finish(&sandbox.Result{Stdout: sandbox.Output{Data: make([]byte, out)}})
		s.ended(r)
		return r
	}
	s := newStore(time.Hour, 2, 1<<20)
	live := newRun("live", "c", func(error) {})
	s.add(live)
	finish(s, "a", 10)
	finish(s, "b", 10)
	finish(s, "c", 10)
	if s.get("a") != nil || s.get("b") == nil || s.get("c") == nil || s.get("live") == nil {
		t.Fatal("count bound: want a dropped, b, c and the live run kept")
	}
	finish(s, "big", 600<<10) // 1.2 MiB with its result: over the bytes bound alone
	if s.get("b") != nil || s.get("c") != nil || s.get("big") == nil {
		t.Fatal("bytes bound: want the older runs dropped, the newest kept")
	}
	old := newStore(time.Millisecond, 100, 1<<30)
	finish(old, "x", 1)
	time.Sleep(5 * time.Millisecond)
	if old.get("x") != nil {
		t.Fatal("age bound: want x dropped")
	}
}
