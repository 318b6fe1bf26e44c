//go:build !amd64

package process

// defaultBPF is not carried on this architecture: the profile compiles at
// its first run.
var defaultBPF []byte
