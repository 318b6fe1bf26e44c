package sandbox

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"
)

// The languages a tool file may be written in, with the interpreter that
// runs it. Every sablebox image and the process sandbox's view have them.
const (
	LangPython = "python"
	LangSh     = "sh"
	LangBash   = "bash"
)

// Langs lists the languages, for messages and flags.
var Langs = []string{LangPython, LangSh, LangBash}

// interpreters maps a language to the command that runs its files: the
// tool's path and arguments follow. Python runs isolated (-I: no user
// site, no PYTHON* variables). Not -u: an unbuffered stdout makes a large
// sys.stdout.buffer.write return short on gVisor, silently losing output.
var interpreters = map[string][]string{
	LangPython: {"python3", "-I"},
	LangSh:     {"/bin/sh"},
	LangBash:   {"/bin/bash"},
}

// Interpreter returns the command that runs a tool file of lang; "" is
// Python.
func Interpreter(lang string) []string {
	if lang == "" {
		lang = LangPython
	}
	return append([]string{}, interpreters[lang]...)
}

// shebangLangs maps the program a "#!" line names (the last path element,
// or what /usr/bin/env runs) to the language.
var shebangLangs = map[string]string{
	"python": LangPython, "python3": LangPython, "sh": LangSh, "dash": LangSh, "bash": LangBash,
}

// extLangs maps a file name's extension to the language.
var extLangs = map[string]string{".py": LangPython, ".sh": LangSh, ".bash": LangBash}

// DetectLang says which language the tool file name with content is in:
// the interpreter its "#!" line names, else its extension. A "#!" line
// naming an interpreter sablebox does not have, or a file with neither,
// is an error that lists the languages and says how to name one.
func DetectLang(name string, content []byte) (string, error) {
	if prog, ok := shebangProgram(content); ok {
		lang, known := shebangLangs[prog]
		if !known && strings.HasPrefix(prog, "python3.") {
			lang, known = LangPython, true
		}
		if !known {
			return "", fmt.Errorf("%w: tool %s wants the interpreter %q, which the sandbox does not have (it has %s); "+
				"rewrite its #! line or name the language with --lang", ErrInvalidSpec, name, prog, strings.Join(Langs, ", "))
		}
		return lang, nil
	}
	if lang, ok := extLangs[path.Ext(name)]; ok {
		return lang, nil
	}
	return "", fmt.Errorf("%w: tool %s has no #! line and no known extension (.py, .sh, .bash): name its language with --lang %s",
		ErrInvalidSpec, name, strings.Join(Langs, "|"))
}

// shebangProgram returns the program a "#!" first line runs.
func shebangProgram(content []byte) (string, bool) {
	line, ok := bytes.CutPrefix(content, []byte("#!"))
	if !ok {
		return "", false
	}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return "", false
	}
	prog := path.Base(fields[0])
	if prog == "env" {
		// #!/usr/bin/env [-S] python3 [args]
		rest := slices.DeleteFunc(fields[1:], func(f string) bool { return strings.HasPrefix(f, "-") })
		if len(rest) == 0 {
			return "", false
		}
		prog = path.Base(rest[0])
	}
	return prog, true
}

// validLang reports whether lang names a language ("" is Python).
func validLang(lang string) bool { return lang == "" || interpreters[lang] != nil }
