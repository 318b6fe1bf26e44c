package termsafe

import "testing"

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text\n\ttabbed\n", "plain text\n\ttabbed\n"},
		{"crlf\r\nline", "crlf\r\nline"},
		{"\x1b]0;pwned\x07title", `\x1b]0;pwned\x07title`},
		{"\x1b[2J\x1b[Hclear", `\x1b[2J\x1b[Hclear`},
		{"fake\rsablebox: note", `fake\x0dsablebox: note`},
		{"\x1b[8mhidden", `\x1b[8mhidden`},
		{"open \x1bP", `open \x1bP`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"utf-8 ü ok ✓", "utf-8 ü ok ✓"},
		{"bad \xff\xfe bytes", `bad \xff\xfe bytes`},
		{"nul \x00 del \x7f bs \b", `nul \x00 del \x7f bs \x08`},
	}
	for _, tt := range tests {
		if got := string(Escape([]byte(tt.in))); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
