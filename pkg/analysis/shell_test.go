package analysis

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func FuzzScanShell(f *testing.F) {
	files, _ := filepath.Glob("testdata/shell/*.sh")
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("$(( ${#a[@]} <<< `x` ))\x00\xff"))
	f.Fuzz(func(t *testing.T, src []byte) {
		findings := withinTime(t, func() ([]Finding, error) { return ScanShell(context.Background(), src, Options{}) })
		checkFindings(t, src, findings)
	})
}

// A command is scanned as the line that would run it.
func TestScanCommand(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"rm", "-rf", "/"}, "sh.rm.root"},
		{[]string{"bash", "-c", "nc -e /bin/sh 127.0.0.1 9"}, "sh.network.tool"},
		{[]string{"python3", "-c", "import os; os.system('id')"}, "py.process.os-system"},
		{[]string{"echo", "rm -rf /"}, ""},
		{[]string{"python3", "-c", "print('eval(1)')"}, ""},
	} {
		findings, err := ScanCommand(context.Background(), c.argv, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, f := range findings {
			rules = append(rules, f.Rule)
		}
		if (c.want == "") != (len(rules) == 0) || (c.want != "" && !slices.Contains(rules, c.want)) {
			t.Errorf("%q: rules %v, want %q", c.argv, rules, c.want)
		}
	}
}

// A script that does not parse is an error that says where.
func TestScanShellBrokenScript(t *testing.T) {
	_, err := ScanShell(context.Background(), []byte("echo ok\nif then (\n"), Options{})
	if err == nil || !strings.Contains(err.Error(), "2:") {
		t.Fatalf("want a parse error at line 2, got %v", err)
	}
}
