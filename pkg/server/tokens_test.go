package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadTokens(t *testing.T) {
	sum := HashToken("s")
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "tokens.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	toks, err := LoadTokens(write("tokens:\n  - name: ci\n    sha256: " + sum +
		"\n    rate: 5\n    ceiling: {timeout: 60s, memory: 512m, cpus: 1, pids: 64, output-limit: 4m}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := toks[0].Policy.Ceiling
	if len(toks) != 1 || toks[0].Policy.Rate != 5 || c.Timeout != time.Minute || c.MemoryBytes != 512<<20 || c.Pids != 64 || c.OutputBytes != 4<<20 {
		t.Fatalf("%+v", toks)
	}
	for body, want := range map[string]string{
		"": "no tokens configured",
		"tokens:\n  - name: ci\n    sha256: abc\n":                                          "sha256 must be 64 lowercase hex digits",
		"tokens:\n  - name: ci\n    secret: x\n":                                            "field secret not found",
		"tokens:\n  - name: 'a b'\n    sha256: " + sum + "\n":                               "use letters, digits",
		"tokens:\n  - {name: a, sha256: " + sum + "}\n  - {name: a, sha256: " + sum + "}\n": "used twice",
		"tokens:\n  - {name: a, sha256: " + sum + ", ceiling: {memory: lots}}\n":            `ceiling memory: "lots"`,
		"tokens:\n  - {name: a, sha256: " + sum + ", ceiling: {timeout: 30}}\n":             "ceiling timeout",
		"tokens: [": "tokens file",
	} {
		if _, err := LoadTokens(write(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
	if _, err := LoadTokens(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
