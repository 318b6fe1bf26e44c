package sandbox

import (
	"errors"
	"strings"
	"testing"
)

func TestDetectLang(t *testing.T) {
	tests := []struct {
		name, content, want, err string
	}{
		{"t.py", "print(1)", LangPython, ""},
		{"t.sh", "echo hi", LangSh, ""},
		{"t.bash", "echo hi", LangBash, ""},
		{"tool", "#!/bin/sh\necho hi", LangSh, ""},
		{"tool", "#!/usr/bin/env python3\nprint(1)", LangPython, ""},
		{"tool", "#!/usr/bin/python3.11 -u\nprint(1)", LangPython, ""},
		{"tool", "#! /usr/bin/env -S bash -e\necho", LangBash, ""},
		{"t.py", "#!/bin/sh\necho shebang wins", LangSh, ""},
		{"t.sh", "#!/usr/bin/perl\nprint 1", "", `wants the interpreter "perl"`},
		{"tool", "echo hi", "", "--lang python|sh|bash"},
		{"tool", "#!\n", "", "no #! line"},
	}
	for _, tt := range tests {
		got, err := DetectLang(tt.name, []byte(tt.content))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("%s %q: want ErrInvalidSpec with %q, got %q, %v", tt.name, tt.content, tt.err, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s %q: got %q, %v; want %q", tt.name, tt.content, got, err, tt.want)
		}
	}
}
