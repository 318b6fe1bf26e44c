// Package sandbox defines what a sandboxed run is: the Spec that says what
// to run and under which limits, the Result that says how it ended, the
// sentinel errors that classify failures, and the Backend interface that
// every isolation mechanism (Docker, Podman, the process sandbox) implements.
//
// The package imports no container engine; backends live in sub-packages
// and are proven against one shared conformance suite (sandboxtest).
package sandbox
