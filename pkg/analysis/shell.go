package analysis

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// The shell rules.
var (
	shRmRoot       = define("sh.rm.root", Critical, "removes the whole file system, the home directory or a path an empty variable can turn into /")
	shRmSystem     = define("sh.rm.system", High, "removes a system path")
	shMkfs         = define("sh.disk.mkfs", Critical, "formats a file system")
	shDdDevice     = define("sh.disk.dd", Critical, "writes raw bytes to a device")
	shDevWrite     = define("sh.dev.write", High, "writes to a device")
	shDevTCP       = define("sh.network.dev-tcp", Critical, "opens a network connection through bash's /dev/tcp or /dev/udp, the classic reverse shell")
	shChmodSystem  = define("sh.fs.chmod-system", High, "changes the mode or owner of a system path")
	shDownloadExec = define("sh.exec.download", Critical, "runs what it downloads")
	shEval         = define("sh.dynamic.eval", High, "runs a command built at run time")
	shSourceDown   = define("sh.exec.source-download", Critical, "sources a file it downloaded")
	shNetwork      = define("sh.network.tool", High, "uses the network")
	shDaemon       = define("sh.process.daemon", High, "starts a process that outlives the tool")
	shDynamicCmd   = define("sh.dynamic.command", Medium, "runs a command whose name is built at run time")
	shOutside      = define("sh.fs.outside", Medium, "a literal absolute path outside /workspace, /tmp and /output")
)

// networkTools are commands that talk to the network.
var networkTools = []string{"nc", "ncat", "netcat", "socat", "telnet", "curl", "wget", "ssh", "scp", "sftp", "ftp", "rsync"}

// downloaders fetch what another command may run.
var downloaders = []string{"curl", "wget", "fetch"}

// interpreters run the code they read.
var interpreters = []string{"sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "python", "python3", "perl", "ruby", "node", "php"}

// daemonizers start processes that outlive the tool.
var daemonizers = []string{"nohup", "setsid", "disown", "daemonize", "start-stop-daemon"}

// wrappers run the command they are given; the scan looks through them.
var wrappers = []string{"sudo", "env", "command", "builtin", "exec", "nice", "nohup", "setsid", "timeout", "xargs", "stdbuf", "ionice", "time", "busybox"}

// wrapperValues are the options of a wrapper that take the next word as
// their value.
var wrapperValues = map[string][]string{
	"sudo":    {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "--user", "--group", "--chdir"},
	"env":     {"-u", "-C", "-S", "--unset", "--chdir", "--split-string"},
	"timeout": {"-s", "-k", "--signal", "--kill-after"},
	"nice":    {"-n", "--adjustment"},
	"ionice":  {"-c", "-n", "-p"},
	"stdbuf":  {"-i", "-o", "-e"},
	"xargs":   {"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s"},
}

// harmlessDevices are the devices a tool may write to.
var harmlessDevices = []string{"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero"}

// ScanShell parses src as a bash script and returns its findings in
// source order; a script that does not parse is an error (a shell runs a
// broken script up to its error, so none of it can be vouched for).
func ScanShell(ctx context.Context, src []byte, opts Options) ([]Finding, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(src), "")
	if err != nil {
		return nil, fmt.Errorf("parse shell: %w", err)
	}
	s := &shScan{ctx: ctx, opts: opts, src: src, downloaded: map[string]bool{}}
	s.file(file)
	sortFindings(s.findings)
	return s.findings, nil
}

// shScan is one script's scan.
type shScan struct {
	ctx  context.Context
	opts Options // for the Python of python3 -c
	src  []byte
	// downloaded are the files the script fetched (curl -o F, wget -O F,
	// curl … > F), which it must not source or run.
	downloaded map[string]bool
	findings   []Finding
	// base offsets the positions of a script found inside another (the
	// string of `sh -c`), whose findings point at that string.
	base *syntax.Word
}

func (s *shScan) add(n syntax.Node, r rule, detail string) {
	if s.base != nil {
		n = s.base
	}
	msg := r.message
	if detail != "" {
		msg = detail + ": " + msg
	}
	text := ""
	if start, end := int(n.Pos().Offset()), int(n.End().Offset()); start <= end && end <= len(s.src) {
		text = string(s.src[start:end])
	}
	s.findings = append(s.findings, Finding{Rule: r.id, Severity: r.severity, Line: int(n.Pos().Line()),
		Column: int(n.Pos().Col()), Text: shorten(text), Message: msg})
}

func (s *shScan) file(f *syntax.File) {
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CallExpr:
			s.call(n)
		case *syntax.BinaryCmd:
			if n.Op == syntax.Pipe || n.Op == syntax.PipeAll {
				s.pipe(n)
			}
		case *syntax.Redirect:
			s.redirect(n)
		case *syntax.Stmt:
			if n.Disown {
				s.add(n, shDaemon, "&!")
			}
			s.noteRedirectedDownload(n)
		}
		return true
	})
}

// command is a call's command name and arguments, looked at through the
// wrappers (sudo, env, timeout …) that run another command, with the
// directory of a path dropped (/usr/bin/curl is curl). name is "" when
// the command is not a literal word.
func command(args []*syntax.Word) (name string, rest []*syntax.Word, wrapped []string) {
	for len(args) > 0 {
		name = args[0].Lit()
		if name == "" {
			return "", args[1:], wrapped
		}
		name = path.Base(name)
		if !slices.Contains(wrappers, name) || len(args) == 1 {
			return name, args[1:], wrapped
		}
		wrapped = append(wrapped, name)
		args = args[1:]
		for len(args) > 1 {
			lit := args[0].Lit()
			skip := strings.HasPrefix(lit, "-") || (name == "env" && strings.Contains(lit, "=")) ||
				(name == "timeout" && lit != "" && strings.Trim(lit, "0123456789.smhd") == "")
			if !skip {
				break
			}
			if slices.Contains(wrapperValues[name], lit) && len(args) > 2 {
				args = args[1:] // the option's value: sudo -u root CMD
			}
			args = args[1:]
		}
	}
	return "", nil, wrapped
}

func (s *shScan) call(c *syntax.CallExpr) {
	if len(c.Args) == 0 {
		return
	}
	name, args, wrapped := command(c.Args)
	for _, w := range wrapped {
		if slices.Contains(daemonizers, w) {
			s.add(c, shDaemon, w)
		}
	}
	if name == "" {
		s.add(c, shDynamicCmd, "")
		return
	}
	switch {
	case name == "rm":
		s.rm(c, args)
	case name == "mkfs" || strings.HasPrefix(name, "mkfs.") || name == "mke2fs" || name == "wipefs" || name == "mkswap":
		s.add(c, shMkfs, name)
	case name == "dd":
		for _, a := range args {
			if of, ok := strings.CutPrefix(a.Lit(), "of="); ok && strings.HasPrefix(of, "/dev/") && !slices.Contains(harmlessDevices, of) {
				s.add(c, shDdDevice, "dd of="+of)
			}
		}
	case name == "chmod" || name == "chown" || name == "chgrp":
		for _, a := range args {
			if p := a.Lit(); strings.HasPrefix(p, "/") && !allowedPath(p) {
				s.add(c, shChmodSystem, name+" "+p)
			}
		}
	case name == "eval":
		s.add(c, shEval, name)
	case name == "source" || name == ".":
		if len(args) > 0 && ((args[0].Lit() != "" && s.downloaded[args[0].Lit()]) || fetches(args[0])) {
			s.add(c, shSourceDown, name)
		}
	case name == "tee":
		for _, a := range args {
			if p := a.Lit(); strings.HasPrefix(p, "/dev/") && !slices.Contains(harmlessDevices, p) {
				s.add(c, shDevWrite, "tee "+p)
			}
		}
	case slices.Contains(daemonizers, name):
		s.add(c, shDaemon, name)
	}
	if slices.Contains(networkTools, name) {
		s.add(c, shNetwork, name)
	}
	if slices.Contains(downloaders, name) {
		s.noteDownload(name, args)
	}
	if slices.Contains(interpreters, name) {
		s.interpreter(c, name, args)
	}
	if !slices.Contains([]string{"chmod", "chown", "chgrp", "rm", "dd", "tee"}, name) {
		for _, a := range args {
			if p, ok := pathWord(a); ok && !allowedPath(p) && !strings.HasPrefix(p, "/dev/") {
				s.add(a, shOutside, "")
			}
		}
	}
}

// pathWord is a word's value when it is a literal absolute path (not a
// pattern or a program text such as awk's /re/ { … }).
func pathWord(w *syntax.Word) (string, bool) {
	v, ok := literalWord(w)
	if !ok || len(v) < 2 || v[0] != '/' || strings.ContainsAny(v, " \t\n^$*[]{}()|\\'\"") {
		return "", false
	}
	return v, true
}

// rm flags a recursive rm of /, ~, $HOME, an unquoted variable or a
// system path.
func (s *shScan) rm(c *syntax.CallExpr, args []*syntax.Word) {
	recursive := false
	var targets []*syntax.Word
	for _, a := range args {
		lit := a.Lit()
		switch {
		case lit == "--recursive" || (strings.HasPrefix(lit, "-") && !strings.HasPrefix(lit, "--") && strings.ContainsAny(lit, "rR")):
			recursive = true
		case strings.HasPrefix(lit, "-"):
		default:
			targets = append(targets, a)
		}
	}
	if !recursive {
		return
	}
	for _, t := range targets {
		lit, literal := literalWord(t)
		switch {
		case !literal:
			if risky := riskyExpansion(t); risky != "" {
				s.add(c, shRmRoot, "rm -r "+risky)
			}
		case strings.HasPrefix(lit, "~") || path.Clean(lit) == "/" || strings.HasPrefix(path.Clean(lit), "/*"):
			s.add(c, shRmRoot, "rm -r "+lit)
		case strings.HasPrefix(lit, "/") && !allowedPath(lit):
			s.add(c, shRmSystem, "rm -r "+lit)
		}
	}
}

// riskyExpansion is what in an rm target an empty or hostile value can
// turn into another path: a parameter or command substitution outside
// double quotes ($DIR, $(cmd)), one that starts the word before a slash
// ("$DIR"/ is / when DIR is empty), or $HOME; "" when none.
func riskyExpansion(w *syntax.Word) string {
	for i, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.ParamExp:
			return "$" + paramName(p)
		case *syntax.CmdSubst:
			return "$(…)"
		case *syntax.DblQuoted:
			for j, q := range p.Parts {
				pe, ok := q.(*syntax.ParamExp)
				if !ok {
					continue
				}
				if paramName(pe) == "HOME" {
					return "$HOME"
				}
				guarded := pe.Exp != nil && pe.Exp.Op == syntax.ErrorUnsetOrNull // ${dir:?} stops the shell when empty
				if i == 0 && j == 0 && !guarded && startsWithSlash(p.Parts[1:], w.Parts[1:]) {
					return `"$` + paramName(pe) + `"/`
				}
			}
		}
	}
	return ""
}

// paramName is the name a parameter expansion reads.
func paramName(p *syntax.ParamExp) string {
	if p.Param == nil {
		return "…"
	}
	return p.Param.Value
}

// startsWithSlash reports whether what follows an expansion, the rest of
// its quotes and then the rest of its word, begins with a slash.
func startsWithSlash(inQuotes, after []syntax.WordPart) bool {
	for _, p := range append(inQuotes, after...) {
		switch p := p.(type) {
		case *syntax.Lit:
			return strings.HasPrefix(p.Value, "/")
		case *syntax.SglQuoted:
			return strings.HasPrefix(p.Value, "/")
		default:
			return false
		}
	}
	return false
}

// fetches reports whether a word's value comes from a downloader: a
// command or process substitution that runs curl or wget.
func fetches(w *syntax.Word) bool {
	found := false
	syntax.Walk(w, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok {
			if name, _, _ := command(c.Args); slices.Contains(downloaders, name) {
				found = true
			}
		}
		return !found
	})
	return found
}

// noteRedirectedDownload remembers the file a downloader's output is
// redirected to (curl … > F).
func (s *shScan) noteRedirectedDownload(st *syntax.Stmt) {
	c, ok := st.Cmd.(*syntax.CallExpr)
	if !ok {
		return
	}
	if name, _, _ := command(c.Args); !slices.Contains(downloaders, name) {
		return
	}
	for _, r := range st.Redirs {
		if r.Word != nil && (r.Op == syntax.RdrOut || r.Op == syntax.AppOut || r.Op == syntax.RdrClob) {
			s.downloaded[r.Word.Lit()] = true
		}
	}
}

// noteDownload remembers the file a downloader writes (curl -o F,
// --output F; wget -O F, --output-document=F).
func (s *shScan) noteDownload(name string, args []*syntax.Word) {
	for i, a := range args {
		lit := a.Lit()
		if v, ok := strings.CutPrefix(lit, "--output-document="); ok {
			s.downloaded[v] = true
		}
		if v, ok := strings.CutPrefix(lit, "--output="); ok {
			s.downloaded[v] = true
		}
		flag := (name == "curl" && (lit == "-o" || lit == "--output")) || (name == "wget" && (lit == "-O" || lit == "--output-document"))
		if flag && i+1 < len(args) {
			s.downloaded[args[i+1].Lit()] = true
		}
	}
}

// interpreter flags an interpreter fed a download (sh <(curl …),
// sh -c "$(curl …)", sh downloaded.sh) and scans the script of
// sh -c 'literal' as shell.
func (s *shScan) interpreter(c *syntax.CallExpr, name string, args []*syntax.Word) {
	for i, a := range args {
		if fetches(a) || (a.Lit() != "" && s.downloaded[a.Lit()]) {
			s.add(c, shDownloadExec, name)
			return
		}
		if a.Lit() != "-c" || i+1 >= len(args) || s.base != nil {
			continue
		}
		if script, ok := literalWord(args[i+1]); ok && isShell(name) {
			s.inner(args[i+1], script)
		} else if ok && strings.HasPrefix(name, "python") {
			s.innerPython(args[i+1], script)
		}
	}
}

// isShell reports whether an interpreter is a shell.
func isShell(name string) bool {
	return !slices.Contains([]string{"python", "python3", "perl", "ruby", "node", "php"}, name)
}

// literalWord is the value of a word made only of literal and quoted
// text.
func literalWord(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(p.Value)
		case *syntax.SglQuoted:
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				lit, ok := q.(*syntax.Lit)
				if !ok {
					return "", false
				}
				b.WriteString(lit.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// inner scans the script of sh -c; its findings point at the string.
func (s *shScan) inner(at *syntax.Word, script string) {
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(script), "")
	if err != nil {
		return // the shell will refuse it too
	}
	sub := &shScan{ctx: s.ctx, opts: s.opts, src: s.src, downloaded: s.downloaded, base: at}
	sub.file(file)
	s.findings = append(s.findings, sub.findings...)
}

// innerPython scans the code of python3 -c; its findings point at the
// string, and code that does not parse is left to Python to refuse.
func (s *shScan) innerPython(at *syntax.Word, code string) {
	findings, err := ScanPython(s.ctx, []byte(code), s.opts)
	if err != nil {
		return
	}
	for _, f := range findings {
		f.Line, f.Column = int(at.Pos().Line()), int(at.Pos().Col())
		f.Text = shorten(code)
		s.findings = append(s.findings, f)
	}
}

// pipe flags a download piped into an interpreter (curl … | sh).
func (s *shScan) pipe(b *syntax.BinaryCmd) {
	left, right := pipeStages(b.X), pipeStages(b.Y)
	download := slices.ContainsFunc(left, func(n string) bool { return slices.Contains(downloaders, n) })
	if !download {
		return
	}
	for _, n := range right {
		if slices.Contains(interpreters, n) || n == "source" || n == "." {
			s.add(b, shDownloadExec, strings.Join(left, " | ")+" | "+n)
			return
		}
	}
}

// pipeStages names the commands of a pipeline's statements.
func pipeStages(st *syntax.Stmt) []string {
	switch c := st.Cmd.(type) {
	case *syntax.CallExpr:
		name, _, _ := command(c.Args)
		return []string{name}
	case *syntax.BinaryCmd:
		return append(pipeStages(c.X), pipeStages(c.Y)...)
	}
	return nil
}

// redirect flags a write to a device, and bash's network redirects.
func (s *shScan) redirect(r *syntax.Redirect) {
	if r.Word == nil {
		return
	}
	target := r.Word.Lit()
	if strings.HasPrefix(target, "/dev/tcp/") || strings.HasPrefix(target, "/dev/udp/") {
		s.add(r, shDevTCP, target)
		return
	}
	switch r.Op {
	case syntax.RdrOut, syntax.AppOut, syntax.RdrInOut, syntax.RdrClob, syntax.RdrAll, syntax.AppAll:
		if strings.HasPrefix(target, "/dev/") && !slices.Contains(harmlessDevices, target) && !strings.HasPrefix(target, "/dev/fd/") {
			s.add(r, shDevWrite, "> "+target)
		}
	}
}

// allowedPath reports whether an absolute path stays in a place a tool
// may use.
func allowedPath(p string) bool {
	clean := path.Clean(p)
	for _, root := range allowedRoots {
		if clean == root || strings.HasPrefix(clean, root+"/") {
			return true
		}
	}
	return false
}
