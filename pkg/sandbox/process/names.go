package process

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// runName names everything a run makes on the host (its temp dir, its
// cgroup), so that a later sablebox can tell whose it is: the deadline,
// the owner's pid and start time, and the run id.
func runName(owner sandbox.Owner, deadline time.Time, runID string) string {
	return fmt.Sprintf("sablebox-%d-%d-%d-%s", deadline.Unix(), owner.PID, owner.Start, runID)
}

// labelsOf reads a name made by runName back into ownership labels; ok is
// false for names that are not sablebox's.
func labelsOf(name string, bootID string) (map[string]string, bool) {
	parts := strings.Split(name, "-")
	if len(parts) != 5 || parts[0] != "sablebox" {
		return nil, false
	}
	for _, p := range parts[1:4] {
		if _, err := strconv.ParseUint(p, 10, 64); err != nil {
			return nil, false
		}
	}
	return map[string]string{
		sandbox.LabelDeadline: parts[1], sandbox.LabelOwnerPID: parts[2], sandbox.LabelOwnerStart: parts[3],
		sandbox.LabelRun: parts[4], sandbox.LabelBootID: bootID,
	}, true
}
