// Package engine holds what the container-engine backends (Docker,
// Podman) share: the sandbox environment, the tmpfs mounts, the tool
// archive, the list of protections, and Supervise, the one loop that
// starts a created container, enforces the timeout and cancellation,
// drains its output and decides the Result.
package engine
