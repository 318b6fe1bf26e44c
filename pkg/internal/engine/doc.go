// Package engine holds what the container backends share (and the process
// sandbox, where it fits): the sandbox environment, the tmpfs mounts, the
// tool and workspace archives, the list of protections, the sweep for
// leftovers, the OOM watch and a few cgroup facts. The run itself is
// pkg/internal/lifecycle's.
package engine
