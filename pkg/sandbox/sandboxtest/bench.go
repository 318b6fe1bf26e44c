package sandboxtest

import (
	"context"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// BenchPool measures runs of `python3 -c pass` handed to a pool of
// cfg.Backend, one at a time: each takes a warm sandbox (the refill is
// outside the timing) and ends when the Result is there.
func BenchPool(b *testing.B, cfg Config) {
	w, ok := cfg.Backend.(sandbox.Warmer)
	if !ok {
		b.Fatalf("%s has no warm path", cfg.Backend.Name())
	}
	limits := sandbox.DefaultLimits()
	shape := &sandbox.Spec{Image: cfg.Image, Limits: limits, Seccomp: cfg.Seccomp}
	p, err := pool.New(w, shape, pool.Config{Min: 1, Max: 1}, pool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for b.Loop() {
		b.StopTimer()
		for p.Size() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		b.StartTimer()
		spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: cfg.Image, Command: []string{"python3", "-c", "pass"},
			Limits: limits, Seccomp: cfg.Seccomp}
		res, err := p.Run(context.Background(), spec)
		if err != nil || res.Status != sandbox.StatusOK || res.Pool != pool.Hit {
			b.Fatalf("%+v %v", res, err)
		}
	}
}
