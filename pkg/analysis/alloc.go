package analysis

/*
#include <stdlib.h>

// tree-sitter's own API (lib/include/tree_sitter/api.h), linked in from
// github.com/tree-sitter/go-tree-sitter.
void ts_set_allocator(void *(*new_malloc)(size_t), void *(*new_calloc)(size_t, size_t),
	void *(*new_realloc)(void *, size_t), void (*new_free)(void *));

static void use_libc_allocator(void) { ts_set_allocator(malloc, calloc, realloc, free); }
*/
import "C"

// The Go binding routes every allocation of the parser through a cgo
// callback into Go, so that a Go program may plug in its own allocator;
// sablebox plugs in none, and the callbacks made a 10,000-line parse
// about 20 times slower. tree-sitter's core goes back to libc's
// allocator here, once the binding's init has run (it is imported).
func init() { C.use_libc_allocator() }
