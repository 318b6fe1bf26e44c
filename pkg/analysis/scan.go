package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// The languages Scan reads, named as sandbox.Langs names them.
const (
	LangPython = "python"
	LangSh     = "sh"
	LangBash   = "bash"
)

// ErrUnscannable is a file or command the gate cannot read: a language it
// has no scanner for, a script that does not parse, a parse that ran out
// of time.
var ErrUnscannable = errors.New("cannot be scanned")

// Scan scans src as a tool file of lang ("" is Python).
func Scan(ctx context.Context, lang string, src []byte, opts Options) ([]Finding, error) {
	var findings []Finding
	var err error
	switch lang {
	case LangPython, "":
		findings, err = ScanPython(ctx, src, opts)
	case LangSh, LangBash:
		findings, err = ScanShell(ctx, src, opts)
	default:
		return nil, fmt.Errorf("%w: no scanner for language %q (there are python, sh and bash)", ErrUnscannable, lang)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnscannable, err)
	}
	return findings, nil
}

// ScanCommand scans a command line (a program and its arguments, as a
// run's Command and Args give it) as the shell line that would run it:
// rm -rf /, curl, the script of sh -c '…' and the code of python3 -c '…'
// are found as in a script.
func ScanCommand(ctx context.Context, argv []string, opts Options) ([]Finding, error) {
	words := make([]string, len(argv))
	for i, a := range argv {
		q, err := syntax.Quote(a, syntax.LangBash)
		if err != nil {
			return nil, fmt.Errorf("%w: argument %d: %w", ErrUnscannable, i+1, err)
		}
		words[i] = q
	}
	return Scan(ctx, LangBash, []byte(strings.Join(words, " ")), opts)
}
