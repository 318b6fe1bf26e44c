package runner_test

import (
	"context"
	"fmt"

	"github.com/sablebox/sablebox/pkg/runner"
)

// Run a command in the best sandbox this host has. (Not run as a test: it
// needs a container engine; the conformance suites cover that.)
func Example() {
	r, err := runner.New(runner.Options{}) // auto: docker, then podman, then process
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	res, err := r.Run(context.Background(), runner.Request{
		Command: []string{"python3", "-c", "print(6 * 7)"},
	})
	if err != nil {
		fmt.Println("sandbox failed:", err)
		return
	}
	fmt.Printf("%s exit=%d backend=%s\n%s", res.Status, res.ExitCode, res.Backend, res.Stdout)
}
