package process

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/sablebox/sablebox/pkg/seccomp"
)

// defaultProfileSum is the digest of the default profile, whose program
// this architecture may carry compiled (defaultBPF): a CLI run then skips
// the compile (about 5 ms of CPU). `make profiles` writes it, and a test
// fails when it is not what libseccomp makes of the profile now.
var defaultProfileSum = func() string {
	sum := sha256.Sum256(seccomp.DefaultProfile().JSON)
	return hex.EncodeToString(sum[:])
}()

// precompiled is the compiled program of the profile with digest sum, when
// it is carried; nil otherwise.
func precompiled(sum string) []byte {
	if sum == defaultProfileSum && len(defaultBPF) > 0 {
		return defaultBPF
	}
	return nil
}
