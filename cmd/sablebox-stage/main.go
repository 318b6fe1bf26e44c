// Command sablebox-stage is the process sandbox's stage helper: the two
// stages between sablebox and the tool, built apart so that they start in
// about a millisecond. sablebox embeds it (make build) and runs it from a
// sealed memory file; it is not meant to be run by hand.
package main

import (
	"fmt"
	"os"

	"github.com/sablebox/sablebox/pkg/sandbox/process/stage"
)

func main() {
	stage.Run()
	fmt.Fprintln(os.Stderr, "sablebox-stage is an internal helper of sablebox's process sandbox; run sablebox instead")
	os.Exit(2)
}
