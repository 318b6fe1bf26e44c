// Package image builds the sablebox sandbox image and, for machines with no
// registry, the offline Debian base it can be built on.
//
// Build sends the Dockerfile embedded in the binary (sandbox-image/) to the
// engine, so it works without a checkout and against remote daemons.
// MakeBase runs debootstrap (minbase plus python3 with its full standard
// library) into a temporary directory and imports it as an image; the
// directory is removed on every path, and a killed run's leftover is
// removed by the next.
package image
