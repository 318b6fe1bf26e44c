// Package sandboximage embeds the files of the sandbox image so that the
// sablebox binary can build it anywhere, with no checkout at hand.
package sandboximage

import "embed"

// Files holds the image's build context: the Dockerfile and nothing else.
//
//go:embed Dockerfile
var Files embed.FS
