package analysis

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	python "github.com/tree-sitter/tree-sitter-python/bindings/go"
)

// moduleRules flag the import of a module (and of anything in it): the
// module alone is what a tool should not need.
var moduleRules = map[string]rule{
	"subprocess":      define("py.process.subprocess", High, "spawns processes"),
	"pty":             define("py.process.pty", High, "spawns processes on a pseudo-terminal"),
	"multiprocessing": define("py.process.multiprocessing", Medium, "spawns processes"),
	"ctypes":          define("py.native.ctypes", High, "calls native code and raw syscalls"),
	"cffi":            define("py.native.cffi", High, "calls native code"),
	"mmap":            define("py.native.mmap", Medium, "maps memory and files directly"),
	"socket":          define("py.network.socket", High, "opens network sockets"),
	"urllib":          define("py.network.urllib", High, "fetches from the network"),
	"http.client":     define("py.network.http-client", High, "talks HTTP"),
	"requests":        define("py.network.requests", High, "talks HTTP"),
	"smtplib":         define("py.network.smtplib", High, "sends mail"),
	"ftplib":          define("py.network.ftplib", High, "talks FTP"),
	"importlib":       define("py.dynamic.importlib", High, "imports modules chosen at run time"),
	"builtins":        define("py.dynamic.builtins", High, "reaches the builtins, where exec and eval live"),
	"pickle":          define("py.dynamic.pickle", Medium, "pickle loads run code"),
	"marshal":         define("py.dynamic.marshal", Medium, "marshal loads code objects"),
}

// callRules flag a call of a function, by its qualified name; a name
// ending in "*" matches any name with that prefix.
var callRules = map[string]rule{
	"exec":            define("py.dynamic.exec", Critical, "runs code built at run time"),
	"eval":            define("py.dynamic.eval", Critical, "runs code built at run time"),
	"compile":         define("py.dynamic.compile", High, "compiles code built at run time"),
	"__import__":      define("py.dynamic.import", High, "imports a module chosen at run time"),
	"globals":         define("py.dynamic.globals", Medium, "reaches the module's namespace by name"),
	"vars":            define("py.dynamic.vars", Medium, "reaches a namespace by name"),
	"os.system":       define("py.process.os-system", Critical, "runs a shell command"),
	"os.popen":        define("py.process.os-popen", Critical, "runs a shell command"),
	"os.exec*":        define("py.process.os-exec", Critical, "replaces the process with another program"),
	"os.spawn*":       define("py.process.os-spawn", Critical, "spawns a program"),
	"os.posix_spawn*": define("py.process.os-spawn", Critical, "spawns a program"),
	"os.fork":         define("py.process.os-fork", High, "forks the process"),
	"os.forkpty":      define("py.process.os-fork", High, "forks the process on a pseudo-terminal"),
	"os.symlink":      define("py.fs.symlink", High, "makes a symbolic link, a way out of a directory"),
	"os.link":         define("py.fs.link", High, "makes a hard link"),
	"pickle.load*":    define("py.dynamic.pickle", High, "pickle loads run code"),
	"marshal.load*":   define("py.dynamic.marshal", High, "marshal loads code objects"),
}

// allowedRoots are where a tool's literal absolute paths may point.
var allowedRoots = []string{"/workspace", "/tmp", "/output"}

// pythonGrammar is tree-sitter's Python grammar, loaded once.
var pythonGrammar = newGrammar(python.Language())

// Options tune a scan.
type Options struct {
	// Imports are the top-level modules a tool may import; any other
	// import is a finding. Nil means DefaultImports.
	Imports []string
}

// importRule is the finding of an import the allowlist lacks.
var importRule = define("py.import.not-allowed", Medium, "not in the import allowlist (analysis.imports in the config)")

// The Python rules that are not of a module or a call.
var (
	pyGetattr    = define("py.dynamic.getattr", High, "reaches an attribute whose name is built at run time")
	pyRmtreeRoot = define("py.fs.rmtree-root", Critical, "removes the whole file system")
	pyDotdot     = define("py.fs.dotdot", High, "a literal path that climbs out with ..")
	pyOutside    = define("py.fs.outside", Medium, "a literal absolute path outside /workspace, /tmp and /output")
)

// ScanPython parses src as Python and returns its findings in source
// order. A file with syntax errors is scanned as far as it parses: the
// parser recovers, and the rules run on every part it understood. The
// parse stops at ctx's deadline, or after MaxParseTime.
func ScanPython(ctx context.Context, src []byte, opts Options) ([]Finding, error) {
	t, err := parse(pythonGrammar, src, parseBudget(ctx))
	if err != nil {
		return nil, fmt.Errorf("parse Python: %w", err)
	}
	allowed := opts.Imports
	if allowed == nil {
		allowed = DefaultImports
	}
	s := &pyScan{tree: t, aliases: map[string]string{}, allowed: map[string]bool{}}
	for _, m := range allowed {
		s.allowed[m] = true
	}
	if len(t.nodes) > 0 {
		s.walk(0, "")
	}
	sortFindings(s.findings)
	return s.findings, nil
}

// pyScan is one file's scan: the names its imports bound, in source
// order (an alias is known from its import on).
type pyScan struct {
	*tree
	aliases  map[string]string // local name: qualified name
	star     []string          // modules imported with *
	allowed  map[string]bool   // top-level modules the tool may import
	findings []Finding
}

func (s *pyScan) add(n int, r rule, detail string) {
	s.findings = append(s.findings, s.finding(n, r, detail))
}

// walk visits node n and its subtree, depth first, in source order.
func (s *pyScan) walk(n int, parentKind string) {
	kind := s.kind(n)
	switch kind {
	case "comment":
		return
	case "string", "concatenated_string":
		if parentKind == "argument_list" {
			s.pathLiteral(n)
		}
		return // names inside never count
	case "import_statement":
		s.importStatement(n)
		return
	case "import_from_statement":
		s.importFrom(n)
		return
	case "call":
		s.call(n)
	case "identifier":
		if name := s.text(n); name == "__builtins__" {
			s.add(n, moduleRules["builtins"], name)
		}
	}
	s.children(n, false, func(c int) { s.walk(c, kind) })
}

// importStatement binds `import a.b` (a) and `import a.b as c` (c).
func (s *pyScan) importStatement(n int) {
	for _, c := range s.namedChildren(n) {
		switch s.kind(c) {
		case "dotted_name":
			module := s.text(c)
			first, _, _ := strings.Cut(module, ".")
			s.aliases[first] = first
			s.flagModule(c, module)
		case "aliased_import":
			module := s.text(s.field(c, "name"))
			s.aliases[s.text(s.field(c, "alias"))] = module
			s.flagModule(c, module)
		}
	}
}

// importFrom binds `from m import x [as y]` and notes `from m import *`.
func (s *pyScan) importFrom(n int) {
	modNode := s.field(n, "module_name")
	if modNode < 0 {
		return
	}
	module := s.text(modNode)
	if s.kind(modNode) == "relative_import" {
		return // the tool's own package: nothing to resolve
	}
	flagged := s.flagModule(n, module)
	for _, c := range s.namedChildren(n) {
		if c == modNode {
			continue
		}
		switch s.kind(c) {
		case "wildcard_import":
			s.star = append(s.star, module)
		case "dotted_name":
			name := s.text(c)
			s.aliases[name] = module + "." + name
			if !flagged {
				flagged = s.flag(c, module+"."+name, false)
			}
		case "aliased_import":
			name := s.text(s.field(c, "name"))
			s.aliases[s.text(s.field(c, "alias"))] = module + "." + name
			if !flagged {
				flagged = s.flag(c, module+"."+name, false)
			}
		}
	}
}

// flagModule reports the import of module when it, or a package it is
// in, has a module rule, or when its top level is not allowed.
func (s *pyScan) flagModule(n int, module string) bool {
	return s.flag(n, module, true)
}

// flag is flagModule, with the allowlist asked only when allowlist is
// set (the names of a from-import are in a module already asked about).
func (s *pyScan) flag(n int, module string, allowlist bool) bool {
	if top, _, _ := strings.Cut(module, "."); allowlist && !s.allowed[top] {
		s.add(n, importRule, "import "+module)
	}
	for m := module; m != ""; {
		if r, ok := moduleRules[m]; ok {
			s.add(n, r, "import "+module)
			return true
		}
		i := strings.LastIndexByte(m, '.')
		if i < 0 {
			break
		}
		m = m[:i]
	}
	return false
}

// call checks a call against the call rules, and its arguments.
func (s *pyScan) call(n int) {
	fn := s.field(n, "function")
	args := s.field(n, "arguments")
	if fn < 0 {
		return
	}
	name := s.qualify(fn)
	if r, ok := matchCall(name); ok {
		s.add(n, r, name)
	}
	switch name {
	case "getattr", "setattr", "delattr", "hasattr":
		if a := s.arguments(args); len(a) >= 2 && !s.isLiteral(a[1]) {
			s.add(n, pyGetattr, name)
		}
	case "shutil.rmtree":
		if a := s.arguments(args); len(a) >= 1 && s.isLiteral(a[0]) {
			if p := literalValue(s.text(a[0])); path.Clean(p) == "/" {
				s.add(n, pyRmtreeRoot, name)
			}
		}
	}
}

// matchCall finds the call rule of a qualified name.
func matchCall(name string) (rule, bool) {
	if name == "" {
		return rule{}, false
	}
	if r, ok := callRules[name]; ok {
		return r, true
	}
	for pattern, r := range callRules {
		if prefix, ok := strings.CutSuffix(pattern, "*"); ok && strings.HasPrefix(name, prefix) {
			return r, true
		}
	}
	return rule{}, false
}

// qualify names what an expression refers to through the file's imports
// (o.system with `import os as o` is os.system), or "" when it is not a
// plain name or attribute chain.
func (s *pyScan) qualify(n int) string {
	switch s.kind(n) {
	case "identifier":
		name := s.text(n)
		if q, ok := s.aliases[name]; ok {
			return q
		}
		for _, m := range s.star {
			if _, ok := matchCall(m + "." + name); ok {
				return m + "." + name
			}
		}
		return name
	case "attribute":
		obj := s.qualify(s.field(n, "object"))
		if obj == "" {
			return ""
		}
		return obj + "." + s.text(s.field(n, "attribute"))
	}
	return ""
}

// isLiteral reports whether n is a plain string literal (no f-string
// interpolation, no concatenation of names).
func (s *pyScan) isLiteral(n int) bool {
	if s.kind(n) != "string" {
		return false
	}
	for _, c := range s.namedChildren(n) {
		if s.kind(c) == "interpolation" {
			return false
		}
	}
	return true
}

// arguments lists a call's arguments (none when args is -1).
func (s *pyScan) arguments(args int) []int {
	if args < 0 {
		return nil
	}
	return s.namedChildren(args)
}

// literalValue is a plain string literal's content, without its prefix
// and quotes (escapes are left as written).
func literalValue(src string) string {
	s := strings.TrimLeft(src, "rRbBuU")
	for _, q := range []string{`"""`, `'''`, `"`, `'`} {
		if strings.HasPrefix(s, q) && strings.HasSuffix(s, q) && len(s) >= 2*len(q) {
			return s[len(q) : len(s)-len(q)]
		}
	}
	return s
}

// pathLiteral reports a literal path argument that leaves the places a
// tool may use: an absolute path outside allowedRoots, or one with "..".
func (s *pyScan) pathLiteral(n int) {
	if !s.isLiteral(n) {
		return
	}
	p := literalValue(s.text(n))
	if p == "" || strings.ContainsAny(p, " \t\n") {
		return // not a path
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		s.add(n, pyDotdot, "")
		return
	}
	if !strings.HasPrefix(p, "/") || len(p) < 2 {
		return
	}
	clean := path.Clean(p)
	for _, root := range allowedRoots {
		if clean == root || strings.HasPrefix(clean, root+"/") {
			return
		}
	}
	s.add(n, pyOutside, "")
}
