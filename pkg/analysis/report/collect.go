// Package report scans tool files and directories with pkg/analysis and
// writes what it found as text, JSON or SARIF 2.1.0 (for code-scanning
// pages): what `sablebox scan` prints.
package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// MaxFileBytes bounds a file the scan reads: a tool larger than a run
// takes (the runner's MaxToolBytes) is not a tool.
const MaxFileBytes = 4 << 20

// File is the scan of one file.
type File struct {
	// Path is the file as it was named or found.
	Path string
	// Lang is the language it was scanned as.
	Lang     string
	Findings []analysis.Finding
	// Err is why it could not be read or scanned.
	Err error
}

// skipDirs are the directories a walk does not enter, besides hidden
// ones: what holds no tools of the project's own.
var skipDirs = []string{"__pycache__", "node_modules"}

// Collect scans each path: a file as the language lang names (or its #!
// line or extension tell), a directory by walking it for the files whose
// extension (.py, .sh, .bash) or #! line names a language, skipping
// hidden directories, __pycache__ and node_modules, and symbolic links.
// A file named that cannot be read or scanned is a File with its Err.
func Collect(ctx context.Context, paths []string, lang string, opts analysis.Options) []File {
	var out []File
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			out = append(out, File{Path: p, Err: fmt.Errorf("cannot read it: %w", unwrapPath(err))})
			continue
		}
		if !st.IsDir() {
			out = append(out, scanFile(ctx, p, lang, true, opts))
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				out = append(out, File{Path: path, Err: fmt.Errorf("cannot read it: %w", unwrapPath(err))})
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.IsDir() {
				if path != p && (strings.HasPrefix(d.Name(), ".") || slices.Contains(skipDirs, d.Name())) {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil // links, devices, sockets: not tools of this tree
			}
			if f := scanFile(ctx, path, lang, false, opts); f.Lang != "" || f.Err != nil {
				out = append(out, f)
			}
			return nil
		})
		if err != nil {
			out = append(out, File{Path: p, Err: err})
		}
	}
	return out
}

// unwrapPath drops the path a *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// scanFile scans one file. A file found in a walk whose language nothing
// tells is no tool, and comes back with no Lang; one named is an error.
func scanFile(ctx context.Context, path, lang string, named bool, opts analysis.Options) File {
	f := File{Path: path}
	if lang == "" {
		lang = langOf(path, named)
		if lang == "" && !named {
			return f
		}
	}
	st, err := os.Stat(path)
	if err == nil && st.Size() > MaxFileBytes {
		f.Err = fmt.Errorf("it is %d bytes, more than a tool may be (%d)", st.Size(), MaxFileBytes)
		return f
	}
	src, err := os.ReadFile(path)
	if err != nil {
		f.Err = fmt.Errorf("cannot read it: %w", unwrapPath(err))
		return f
	}
	if lang == "" {
		if lang, err = sandbox.DetectLang(filepath.Base(path), src); err != nil {
			f.Err = fmt.Errorf("cannot tell its language (name it with --lang %s)", strings.Join(sandbox.Langs, "|"))
			return f
		}
	}
	f.Lang = lang
	f.Findings, f.Err = analysis.Scan(ctx, lang, src, opts)
	return f
}

// langOf tells a found file's language by its extension, else by a #!
// line naming an interpreter sablebox has; "" when neither does.
func langOf(path string, named bool) string {
	switch filepath.Ext(path) {
	case ".py":
		return analysis.LangPython
	case ".sh":
		return analysis.LangSh
	case ".bash":
		return analysis.LangBash
	}
	if named {
		return "" // DetectLang tells it, or says why not
	}
	file, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer file.Close()
	head := make([]byte, 256)
	n, _ := file.Read(head)
	if !strings.HasPrefix(string(head[:n]), "#!") {
		return ""
	}
	lang, err := sandbox.DetectLang(filepath.Base(path), head[:n])
	if err != nil {
		return ""
	}
	return lang
}

// Worst is the highest severity among the files' findings (0 for none),
// and whether any file could not be scanned.
func Worst(files []File) (worst analysis.Severity, failed bool) {
	for _, f := range files {
		failed = failed || f.Err != nil
		for _, x := range f.Findings {
			worst = max(worst, x.Severity)
		}
	}
	return worst, failed
}
