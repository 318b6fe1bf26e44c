// Package termsafe makes a tool's output safe to show on a terminal: every
// control character, escape sequence introducer and text-reordering mark
// is shown as a visible escape (\x1b, \u202e) instead of acting on the
// terminal, so a tool can neither set the title, move the cursor, hide
// text, nor forge the lines sablebox prints after it.
package termsafe

import (
	"fmt"
	"unicode/utf8"
)

// Escape returns b with everything that could act on a terminal made
// visible. Newlines, tabs and CRLF line ends pass as they are; a lone
// carriage return (which would let a line overwrite itself) does not.
func Escape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			out = fmt.Appendf(out, `\x%02x`, b[i])
		case r == '\n' || r == '\t':
			out = append(out, byte(r))
		case r == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r')
		case r < 0x20 || r == 0x7f:
			out = fmt.Appendf(out, `\x%02x`, r)
		case (r >= 0x80 && r <= 0x9f) || reorders(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

// reorders reports whether r is a bidirectional control that changes how
// the text around it is displayed.
func reorders(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
