package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

func TestLoadDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	v, err := NewViper("")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != sandbox.DefaultLimits() || c.Runtime != "auto" {
		t.Fatalf("defaults: got %+v", c)
	}
}

func TestLoadFromEnvAndFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if err := os.WriteFile(filepath.Join(dir, "sablebox.yaml"), []byte("memory: 128m\npids: 20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SABLEBOX_TIMEOUT", "2m")
	t.Setenv("SABLEBOX_PIDS", "30") // the variable beats the file
	v, err := NewViper("")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MemoryBytes != 128<<20 || c.Limits.Pids != 30 || c.Limits.Timeout != 2*time.Minute {
		t.Fatalf("got %+v", c.Limits)
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{KeyRuntime, "lxc", "runtime"},
		{KeyTimeout, "30", "timeout"},
		{KeyTimeout, "-1s", "timeout"},
		{KeyMemory, "lots", "memory"},
		{KeyCPUs, "0", "cpus"},
		{KeyCPUs, "NaN", "cpus"},
		{KeyPids, "1.5", "pids"},
		{KeyPids, "1", "pids"},
		{KeyLogFormat, "xml", "log-format"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			t.Chdir(t.TempDir())
			t.Setenv("XDG_CONFIG_HOME", t.TempDir())
			v, err := NewViper("")
			if err != nil {
				t.Fatal(err)
			}
			v.Set(tt.key, tt.value)
			if _, err := Load(v); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error naming %q, got %v", tt.want, err)
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(bad, []byte("memroy: 1g\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewViper(bad); err == nil || !strings.Contains(err.Error(), `unknown setting "memroy"`) {
		t.Fatalf("want unknown setting error, got %v", err)
	}
	broken := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(broken, []byte("memory: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewViper(broken); err == nil || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("want config file error, got %v", err)
	}
	if _, err := NewViper(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a named config file that is missing must be an error")
	}
}
