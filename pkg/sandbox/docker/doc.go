// Package docker runs sandboxed tools in Docker containers through the
// Docker Engine API (never the docker CLI).
//
// Every container gets every protection: no network, all capabilities
// dropped, no-new-privileges, a read-only root, noexec tmpfs for /tmp and
// the home directory, memory (without swap), CPU and pids limits, explicit
// ulimits, uid 1000, an init process, and the seccomp profile passed inline.
// Containers carry sablebox's ownership labels and are removed after every
// run; Reap removes those whose owner died.
package docker
