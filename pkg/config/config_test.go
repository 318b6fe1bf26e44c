package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

func TestLoadDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	v, err := NewViper("")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(v, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != sandbox.DefaultLimits() || c.Runtime != "auto" {
		t.Fatalf("defaults: got %+v", c)
	}
}

// inDirWithConfig runs the test in a fresh directory whose sablebox.yaml
// holds yaml.
func inDirWithConfig(t *testing.T, yaml string) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if err := os.WriteFile(filepath.Join(dir, "sablebox.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// load reads the settings as sablebox does, with no flags.
func load(t *testing.T) (*Config, error) {
	t.Helper()
	v, err := NewViper("")
	if err != nil {
		return nil, err
	}
	return Load(v, nil)
}

func TestLoadFromEnvAndFile(t *testing.T) {
	inDirWithConfig(t, "memory: 128m\npids: 20\n")
	t.Setenv("SABLEBOX_TIMEOUT", "2m")
	t.Setenv("SABLEBOX_PIDS", "30") // the variable beats the file
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MemoryBytes != 128<<20 || c.Limits.Pids != 30 || c.Limits.Timeout != 2*time.Minute {
		t.Fatalf("got %+v", c.Limits)
	}
}

func TestPoolSettings(t *testing.T) {
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pool == nil || c.Pool.Min != 2 || c.Pool.Max != 4 || c.Pool.Idle != 2*time.Minute || c.Pool.Refills != 1 || c.Pool.Output {
		t.Fatalf("default pool %+v", c.Pool)
	}
	t.Setenv("SABLEBOX_POOL", "false")
	if c, err = load(t); err != nil || c.Pool != nil {
		t.Fatalf("pool off: %+v, %v", c.Pool, err)
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
		{KeyPool, "maybe", "pool"},
		{KeyPoolMin, "-1", "pool-min"},
		{KeyPoolMin, "9", "pool"},
		{KeyPoolMax, "0", "pool-max"},
		{KeyPoolIdle, "1h", "pool"},
		{KeyPoolIdle, "soon", "pool-idle"},
		{KeyPoolRefills, "1.5", "pool-refills"},
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
			if _, err := Load(v, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
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

// A bad value names where it came from (the file, a variable or a flag),
// the key and the value given; a broken file is named.
func TestErrorsSayWhereTheValueCameFrom(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	file := filepath.Join(dir, "sablebox.yaml")
	load := func(yaml string, env map[string]string, args ...string) error {
		t.Helper()
		if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		for k, val := range env {
			t.Setenv(k, val)
		}
		v, err := NewViper("")
		if err != nil {
			return err
		}
		flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
		flags.String(KeyTimeout, "30s", "")
		if err := flags.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := v.BindPFlag(KeyTimeout, flags.Lookup(KeyTimeout)); err != nil {
			t.Fatal(err)
		}
		_, err = Load(v, flags)
		return err
	}
	tests := []struct {
		name, yaml string
		env        map[string]string
		args       []string
		want       string
	}{
		{"a list where one value goes", "timeout: [1, 2]\n", nil, nil, "timeout in " + file + " [1 2] (a []interface {}): want a single value"},
		{"a bad value in the file", "memory: lots\n", nil, nil, `memory in ` + file + ` "lots": want a size`},
		{"a bad variable", "", map[string]string{"SABLEBOX_PIDS": "many"}, nil, `SABLEBOX_PIDS "many": want a whole number`},
		{"a bad flag", "", nil, []string{"--timeout", "-1"}, `--timeout "-1": must be a positive duration with a unit, such as 30s`},
		{"broken YAML", "memory: [\n", nil, nil, "config file " + file + ": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := load(tt.yaml, tt.env, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("want one line containing %q, got %v", tt.want, err)
			}
		})
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"SABLEBOX_TIMEOT=2m", "SABLEBOX_TIMEOUT=2m", "SABLEBOX_OUTPUT_LIMIT=1m", "SABLEBOX_REQUIRE=all", "HOME=/root"})
	if len(got) != 1 || got[0] != "SABLEBOX_TIMEOT" {
		t.Fatalf("unknown variables %q, want just SABLEBOX_TIMEOT", got)
	}
}

// A backend's settings, declared in its own package, are read from every
// source and checked by the backend's own check.
func TestBackendSettingsComeFromTheBackends(t *testing.T) {
	inDirWithConfig(t, "oci-runtime: runsc\nprocess-require: [landlock, seccomp]\n")
	t.Setenv("SABLEBOX_DOCKER_HOST", "unix:///elsewhere.sock")
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"oci-runtime": "runsc", "process-require": "landlock,seccomp", "docker-host": "unix:///elsewhere.sock"}
	for k, val := range want {
		if got := c.Settings.Get(k); got != val {
			t.Errorf("%s = %q, want %q", k, got, val)
		}
	}
	t.Setenv("SABLEBOX_PROCESS_REQUIRE", "landlock,nosuch")
	if _, err := load(t); err == nil || !strings.Contains(err.Error(), `SABLEBOX_PROCESS_REQUIRE "landlock,nosuch": unknown layer "nosuch"`) {
		t.Fatalf("want the process backend's own check to name the bad layer and where it came from, got %v", err)
	}
}

// The gate's policy comes from its section of the config file, or from
// SABLEBOX_ANALYSIS_* variables; a bad value names where it came from.
func TestAnalysisSettings(t *testing.T) {
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.Analysis.Mode != analysis.Enforce || c.Analysis.FailOn != analysis.High || c.Analysis.Imports != nil {
		t.Fatalf("default policy %+v", c.Analysis)
	}
	inDirWithConfig(t, "analysis:\n  mode: warn\n  fail-on: medium\n  imports: [json, numpy]\n")
	if c, err = load(t); err != nil || c.Analysis.Mode != analysis.Warn || c.Analysis.FailOn != analysis.Medium ||
		strings.Join(c.Analysis.Imports, ",") != "json,numpy" {
		t.Fatalf("from the file: %+v, %v", c.Analysis, err)
	}
	t.Setenv("SABLEBOX_ANALYSIS_MODE", "off")
	t.Setenv("SABLEBOX_ANALYSIS_IMPORTS", "json,yaml")
	if c, err = load(t); err != nil || c.Analysis.Mode != analysis.Off || strings.Join(c.Analysis.Imports, ",") != "json,yaml" {
		t.Fatalf("from the variables: %+v, %v", c.Analysis, err)
	}
	if unknown := UnknownEnv([]string{"SABLEBOX_ANALYSIS_MODE=off", "SABLEBOX_ANALYSIS_FAIL_ON=low"}); len(unknown) != 0 {
		t.Errorf("known variables called unknown: %v", unknown)
	}
	for yaml, want := range map[string]string{
		"analysis:\n  mode: loose\n":        `analysis.mode in `,
		"analysis:\n  fail-on: severe\n":    `want low, medium, high or critical`,
		"analysis:\n  imports: [os.path]\n": `"os.path" is not a module name`,
		"analysis:\n  mood: enforce\n":      `unknown setting "analysis.mood"`,
		"analysis: enforce\n":               `unknown setting "analysis"`,
	} {
		t.Setenv("SABLEBOX_ANALYSIS_MODE", "")
		t.Setenv("SABLEBOX_ANALYSIS_IMPORTS", "")
		inDirWithConfig(t, yaml)
		if _, err := load(t); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want an error with %q, got %v", yaml, want, err)
		}
	}
}
