// Package cli holds sablebox's commands. Each command only gathers its
// flags and settings and makes one library call; behaviour lives in pkg/.
package cli
