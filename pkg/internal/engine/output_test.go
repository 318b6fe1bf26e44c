package engine

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Both engines' archive layouts give the same files; what is not a
// regular file is named, and nothing beyond the bounds is kept.
func TestReadArchive(t *testing.T) {
	for _, top := range []string{"output/", "/"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		entry := func(name string, typ byte, mode int64, body string) {
			_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: int64(len(body)), Linkname: "x"})
			_, _ = tw.Write([]byte(body))
		}
		inner := strings.TrimPrefix(top, "/")
		entry(top, tar.TypeDir, 0o755, "")
		entry(inner+"a.txt", tar.TypeReg, 0o644, "a")
		entry(inner+"sub/", tar.TypeDir, 0o755, "")
		entry(inner+"sub/run.sh", tar.TypeReg, 0o755, "#!")
		entry(inner+"link", tar.TypeSymlink, 0o777, "")
		entry(inner+"hard", tar.TypeLink, 0o644, "")
		entry(inner+"fifo", tar.TypeFifo, 0o644, "")
		_ = tw.Close()
		c, err := ReadArchive(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Files) != 2 || c.Files[0].Path != "a.txt" || string(c.Files[0].Content) != "a" ||
			c.Files[1].Path != "sub/run.sh" || !c.Files[1].Executable {
			t.Errorf("top %q: files %+v", top, c.Files)
		}
		if notes := c.Notes(); len(notes) != 1 || !strings.Contains(notes[0], "fifo (fifo), hard (hard link), link (symlink)") {
			t.Errorf("top %q: notes %q", top, notes)
		}
	}
}

// A hard link to a file already in the archive (GNU tar's second name of
// a file) comes back as a copy; one to anything else does not.
func TestReadArchiveCopiesHardLinksInside(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2},
		{Name: "./b", Typeflag: tar.TypeLink, Linkname: "./a"},
		{Name: "./c", Typeflag: tar.TypeLink, Linkname: "../etc/passwd"},
		{Name: "./d", Typeflag: tar.TypeLink, Linkname: "./missing"},
	} {
		_ = tw.WriteHeader(h)
		if h.Size > 0 {
			_, _ = tw.Write([]byte("hi"))
		}
	}
	_ = tw.Close()
	c, err := ReadArchive(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 2 || c.Files[1].Path != "b" || string(c.Files[1].Content) != "hi" {
		t.Errorf("files %+v", c.Files)
	}
	if notes := c.Notes(); len(notes) != 1 || !strings.Contains(notes[0], "c (hard link), d (hard link)") {
		t.Errorf("notes %q", notes)
	}
}

// A full output tmpfs (files up to its size, none dropped) is named.
func TestCollectedSaysAFullOutputIsFull(t *testing.T) {
	c := &Collected{}
	size := int64(sandbox.MaxFileBytes - 4096)
	if err := c.Add("big", 0o644, size, strings.NewReader(strings.Repeat("x", int(size)))); err != nil {
		t.Fatal(err)
	}
	if notes := c.Notes(); len(notes) != 1 || !strings.Contains(notes[0], "/output is full") {
		t.Fatalf("notes %q", notes)
	}
}

func TestCollectedKeepsToItsBounds(t *testing.T) {
	c := &Collected{}
	big := strings.Repeat("x", sandbox.MaxFileBytes/2+1)
	for _, name := range []string{"one", "two", "three"} {
		if err := c.Add(name, 0o644, int64(len(big)), strings.NewReader(big)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.Files) != 1 || len(c.Notes()) != 1 || !strings.Contains(c.Notes()[0], "2 more files") {
		t.Fatalf("%d files, notes %q", len(c.Files), c.Notes())
	}
}
