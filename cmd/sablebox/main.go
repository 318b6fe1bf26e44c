// Command sablebox runs untrusted tool code in a sandbox.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"github.com/sablebox/sablebox/cmd/sablebox/cli"
	"github.com/sablebox/sablebox/pkg/sandbox/process"
)

func main() {
	// The process sandbox re-executes this binary for its stages: run the
	// stage and never return when this process is one.
	process.MaybeInit()
	// client-go reports what it recovers from (a stream cut at a run's
	// end) through klog, to stderr; the Kubernetes backend returns what
	// matters as errors, so klog says nothing here.
	klog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
