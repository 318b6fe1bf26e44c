// Package runner is the one entry point for running a tool: the CLI, the
// HTTP service and library users all go through Runner. It turns a Request
// into a validated sandbox.Spec, picks the backend (auto: docker, then
// podman, then process), reaps what dead runs left behind, runs the tool,
// and writes the audit record.
package runner
