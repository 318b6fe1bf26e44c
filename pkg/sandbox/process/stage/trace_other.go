//go:build !amd64 && !arm64

package stage

import "errors"

// syscallNumber is known on amd64 and arm64 only.
func syscallNumber(int) (int, error) {
	return 0, errors.New("the tracer reads syscall numbers on amd64 and arm64 only")
}
