// Package podman runs sandboxed tools in Podman containers through the
// Podman REST API (github.com/containers/podman/v5/pkg/bindings), never the
// podman CLI. Every protection of the Docker backend is applied.
//
// Podman opens a seccomp profile by path on the server, not inline: the
// backend writes each profile, named by its sha256, into a directory the
// service can read (ProfileDir). With a remote service (ssh:// or tcp://)
// sablebox cannot write there; the profile must be placed on the server
// beforehand, and runs fail closed until it is.
//
// The bindings need the build tags "remote exclude_graphdriver_btrfs
// containers_image_openpgp" (the Makefile sets them). Built without them,
// New returns an error that wraps sandbox.ErrUnavailable.
package podman

// Name is the backend's name.
const Name = "podman"
