// Package version holds sablebox's version, set at build time with
// -ldflags "-X github.com/sablebox/sablebox/pkg/version.Version=…".
package version

// Version is the release this binary was built from ("dev" when unset).
var Version = "dev"
