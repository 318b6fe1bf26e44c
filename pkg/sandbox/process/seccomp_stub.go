//go:build !seccomp || !cgo

package process

import "errors"

const seccompBuiltIn = false

// compileSeccomp fails closed: this build has no libseccomp.
func compileSeccomp([]byte) ([]byte, error) {
	return nil, errors.New("this sablebox was built without libseccomp (build it with `make build`)")
}
