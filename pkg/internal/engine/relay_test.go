package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

func TestRelayStripsTheEndMarkInAnyChunking(t *testing.T) {
	mark := []byte("\x00sablebox-exit:abcd:")
	stream := "hello\x00 not a mark\x00sablebox-exit:abcX:007\n" + "world\n" + "\x00sablebox-exit:abcd:042\n" + "after"
	for chunk := 1; chunk <= len(stream); chunk++ {
		var out bytes.Buffer
		var r Relay
		code := -1
		r.Connect(&out, mark, func(c int) { code = c })
		for i := 0; i < len(stream); i += chunk {
			_, _ = r.Write([]byte(stream[i:min(i+chunk, len(stream))]))
		}
		r.Flush()
		want := "hello\x00 not a mark\x00sablebox-exit:abcX:007\nworld\n"
		if out.String() != want || code != 42 {
			t.Fatalf("chunks of %d: got %q code %d, want %q code 42", chunk, out.String(), code, want)
		}
	}
}

// What follows the mark (the output's tar) goes to the tail, whatever the
// chunking.
func TestRelayPassesWhatFollowsTheMarkToItsTail(t *testing.T) {
	mark := []byte("\x00sablebox-exit:abcd:")
	stream := "out\x00sablebox-exit:abcd:000\n" + "TAR\x00sablebox-exit:abcd:000\nBYTES"
	for chunk := 1; chunk <= len(stream); chunk++ {
		var out, tail bytes.Buffer
		r := Relay{tail: &tail}
		r.Connect(&out, mark, func(int) {})
		for i := 0; i < len(stream); i += chunk {
			_, _ = r.Write([]byte(stream[i:min(i+chunk, len(stream))]))
		}
		r.Flush()
		if out.String() != "out" || tail.String() != "TAR\x00sablebox-exit:abcd:000\nBYTES" {
			t.Fatalf("chunks of %d: out %q tail %q", chunk, out.String(), tail.String())
		}
	}
}

// The tail keeps to its bound, and an empty one is an error.
func TestTailReaderKeepsToItsBound(t *testing.T) {
	tr := newTailReader()
	chunk := make([]byte, 1<<20)
	for i := int64(0); i <= TailBytes>>20; i++ {
		_, _ = tr.Write(chunk)
	}
	tr.end()
	<-tr.done
	if tr.err == nil {
		t.Fatal("no error for an endless archive")
	}
	empty := newTailReader()
	empty.end()
	<-empty.done
	if empty.err == nil || !strings.Contains(empty.err.Error(), "no archive") {
		t.Fatalf("empty tail: %v", empty.err)
	}
}

func TestRelayFlushesWhatOnlyLookedLikeAMark(t *testing.T) {
	var out bytes.Buffer
	var r Relay
	r.Connect(&out, []byte("\x00sablebox-exit:abcd:"), func(int) { t.Error("no mark was there") })
	_, _ = r.Write([]byte("text\x00sablebox-ex"))
	if out.String() != "text" {
		t.Fatalf("got %q before the end: the possible mark is held", out.String())
	}
	r.Flush()
	if out.String() != "text\x00sablebox-ex" {
		t.Fatalf("got %q after the end", out.String())
	}
}

func TestRelayHoldsALittleBeforeItIsConnected(t *testing.T) {
	var r Relay
	_, _ = r.Write([]byte(strings.Repeat("x", 10000)))
	if got := len(r.Held()); got != relayHeld {
		t.Fatalf("held %d bytes, want %d", got, relayHeld)
	}
	var out bytes.Buffer
	r.Connect(&out, nil, nil)
	_, _ = r.Write([]byte("run"))
	if out.String() != "run" || r.Held() != "" {
		t.Fatalf("out %q held %d", out.String(), len(r.Held()))
	}
}

func TestHandoffEndsOnceBothStreamsMarked(t *testing.T) {
	h := NewHandoff()
	_, _ = h.Stdout.Write([]byte(readyMark))
	select {
	case <-h.ready:
	default:
		t.Fatal("the ready line was not seen")
	}
	h.Bind(&sandboxSpecForTest)
	var out, errOut bytes.Buffer
	h.Connect(&out, &errOut)
	mark := string(h.mark)
	_, _ = h.Stdout.Write([]byte("out" + mark + "003\n"))
	select {
	case <-h.Ended():
		t.Fatal("ended on one stream's mark: the other may still carry the tool's bytes")
	default:
	}
	_, _ = h.Stderr.Write([]byte("err" + mark + "003\n"))
	<-h.Ended()
	if h.Code() != 3 || out.String() != "out" || errOut.String() != "err" {
		t.Fatalf("code %d out %q err %q", h.Code(), out.String(), errOut.String())
	}
	if !bytes.Contains(h.Header(), []byte(`"argv":["python3","-c","pass"]`)) {
		t.Fatalf("header %s", h.Header())
	}
}

var sandboxSpecForTest = sandbox.Spec{Command: []string{"python3", "-c", "pass"}}

// A bound run that never connects (its create or attach failed) leaves
// no collector behind; a connected one's ends with its stream.
func TestHandoffCollectsOutputOnlyOnceConnected(t *testing.T) {
	h := NewHandoff()
	h.TarsOutput = true
	h.Bind(&sandbox.Spec{Command: []string{"true"}, Output: true})
	if !h.WritesOutput() || h.tail != nil {
		t.Fatalf("writes %v, collector %v before Connect", h.WritesOutput(), h.tail)
	}
	if _, err := h.Output(context.Background()); err == nil {
		t.Fatal("output of a run never connected: want an error")
	}
	var out, errOut bytes.Buffer
	h.Connect(&out, &errOut)
	h.Flush()
	if _, err := h.Output(context.Background()); err == nil || !strings.Contains(err.Error(), "no archive") {
		t.Fatalf("a stream that ended without an archive: %v", err)
	}
}
