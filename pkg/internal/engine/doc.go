// Package engine holds what the backends share: the sandbox environment,
// the tmpfs mounts, the tool archive, the list of protections, a few
// cgroup facts, and Supervise, the one loop that starts a created
// container (or the process sandbox's stage 1), enforces the timeout and
// cancellation, drains its output and decides the Result.
package engine
