package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/viper"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Setting keys, shared by flags, variables (SABLEBOX_ + upper case, '-' as
// '_') and the config file.
const (
	KeyRuntime    = "runtime"
	KeyTimeout    = "timeout"
	KeyMemory     = "memory"
	KeyCPUs       = "cpus"
	KeyPids       = "pids"
	KeyWorkspace  = "workspace"
	KeyLang       = "lang"
	KeyOutput     = "output"
	KeyEnv        = "env"
	KeyImage      = "image"
	KeyJSON       = "json"
	KeyQuiet      = "quiet"
	KeyRawOutput  = "raw-output"
	KeyOutputCap  = "output-limit"
	KeyLogFormat  = "log-format"
	KeyLogLevel   = "log-level"
	KeyAuditFile  = "audit-file"
	KeyDockerHost = "docker-host"
	KeyPodmanSock = "podman-socket"
	KeyOCIRuntime = "oci-runtime"
	KeySeccompDir = "podman-seccomp-dir"
	KeyRequire    = "process-require"
)

// EnvPrefix prefixes the environment variables that set each key.
const EnvPrefix = "SABLEBOX"

var runtimeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Runtimes lists the values of the runtime setting.
var Runtimes = []string{"auto", "docker", "podman", "process"}

// Config is the validated settings of one sablebox invocation.
type Config struct {
	Runtime string
	// Image is the sandbox image the user named, or "" for the default
	// (image.DefaultTag); a named image is a requirement.
	Image     string
	Workspace string
	// Lang is the tool file's language; "" lets its #! line or extension tell.
	Lang   string
	Output string
	Env    []string
	JSON   bool
	// Quiet drops sablebox's line about where a run ran.
	Quiet bool
	// RawOutput passes the tool's output to a terminal unescaped.
	RawOutput  bool
	Limits     sandbox.Limits
	LogFormat  string
	LogLevel   string
	AuditFile  string
	DockerHost string
	// PodmanSocket is the Podman service's address ("" = CONTAINER_HOST
	// or the usual sockets).
	PodmanSocket string
	// OCIRuntime runs containers under another OCI runtime, such as runsc.
	OCIRuntime string
	// PodmanSeccompDir is where Podman finds sablebox's seccomp profiles.
	PodmanSeccompDir string
	// ProcessRequire lists the layers a process-sandbox run must have (nil:
	// the backend's default).
	ProcessRequire []string
}

// SetDefaults registers every key's default in v.
func SetDefaults(v *viper.Viper) {
	d := sandbox.DefaultLimits()
	v.SetDefault(KeyRuntime, "auto")
	v.SetDefault(KeyTimeout, d.Timeout.String())
	v.SetDefault(KeyMemory, units.BytesSize(float64(d.MemoryBytes)))
	v.SetDefault(KeyCPUs, d.CPUs)
	v.SetDefault(KeyPids, d.Pids)
	v.SetDefault(KeyOutputCap, units.BytesSize(float64(d.OutputBytes)))
	v.SetDefault(KeyLogFormat, "text")
	v.SetDefault(KeyLogLevel, "warning")
	v.SetDefault(KeyEnv, []string{})
}

// NewViper returns a viper that reads SABLEBOX_* variables and, when one
// exists, sablebox.yaml from ., $XDG_CONFIG_HOME/sablebox or /etc/sablebox.
// file names a config file to use instead of searching.
func NewViper(file string) (*viper.Viper, error) {
	v := viper.New()
	SetDefaults(v)
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if file != "" {
		v.SetConfigFile(file)
	} else {
		v.SetConfigName("sablebox")
		v.SetConfigType("yaml")
		v.AddConfigPath(".")
		if xdg := os.Getenv("XDG_CONFIG_HOME"); xdg != "" {
			v.AddConfigPath(filepath.Join(xdg, "sablebox"))
		} else if home, err := os.UserHomeDir(); err == nil {
			v.AddConfigPath(filepath.Join(home, ".config", "sablebox"))
		}
		v.AddConfigPath("/etc/sablebox")
	}
	if err := v.ReadInConfig(); err != nil {
		var notFound viper.ConfigFileNotFoundError
		if file != "" || !errors.As(err, &notFound) {
			return nil, fmt.Errorf("config file: %w", err)
		}
	}
	if used := v.ConfigFileUsed(); used != "" {
		if err := checkKnownKeys(v); err != nil {
			return nil, fmt.Errorf("config file %s: %w", used, err)
		}
	}
	return v, nil
}

// checkKnownKeys refuses settings sablebox does not know, so that a typo
// in a limit never silently leaves the default in force.
func checkKnownKeys(v *viper.Viper) error {
	known := []string{KeyRuntime, KeyTimeout, KeyMemory, KeyCPUs, KeyPids, KeyWorkspace, KeyOutput,
		KeyEnv, KeyLang, KeyImage, KeyJSON, KeyQuiet, KeyRawOutput, KeyOutputCap, KeyLogFormat, KeyLogLevel, KeyAuditFile, KeyDockerHost,
		KeyPodmanSock, KeyOCIRuntime, KeySeccompDir, KeyRequire}
	for _, k := range v.AllKeys() {
		if !slices.Contains(known, k) {
			return fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return nil
}

// Load reads and validates every setting from v.
func Load(v *viper.Viper) (*Config, error) {
	c := &Config{
		Runtime:    v.GetString(KeyRuntime),
		Image:      v.GetString(KeyImage),
		Workspace:  v.GetString(KeyWorkspace),
		Lang:       v.GetString(KeyLang),
		Output:     v.GetString(KeyOutput),
		Env:        v.GetStringSlice(KeyEnv),
		JSON:       v.GetBool(KeyJSON),
		Quiet:      v.GetBool(KeyQuiet),
		RawOutput:  v.GetBool(KeyRawOutput),
		LogFormat:  v.GetString(KeyLogFormat),
		LogLevel:   v.GetString(KeyLogLevel),
		AuditFile:  v.GetString(KeyAuditFile),
		DockerHost: v.GetString(KeyDockerHost),
		Limits:     sandbox.DefaultLimits(),

		PodmanSocket:     v.GetString(KeyPodmanSock),
		OCIRuntime:       v.GetString(KeyOCIRuntime),
		PodmanSeccompDir: v.GetString(KeySeccompDir),
	}
	if v.IsSet(KeyRequire) {
		c.ProcessRequire = []string{}
		for _, item := range v.GetStringSlice(KeyRequire) {
			for _, l := range strings.Split(item, ",") { // flags and variables give "a,b"
				if l = strings.TrimSpace(l); l != "" {
					c.ProcessRequire = append(c.ProcessRequire, l)
				}
			}
		}
	}
	if c.OCIRuntime != "" && !runtimeNameRE.MatchString(c.OCIRuntime) {
		return nil, fmt.Errorf("%s %q: want a runtime name such as runc or runsc", KeyOCIRuntime, c.OCIRuntime)
	}
	if !slices.Contains(Runtimes, c.Runtime) {
		return nil, fmt.Errorf("%s %q: want one of %s", KeyRuntime, c.Runtime, strings.Join(Runtimes, ", "))
	}
	if c.Lang != "" && !slices.Contains(sandbox.Langs, c.Lang) {
		return nil, fmt.Errorf("%s %q: want one of %s", KeyLang, c.Lang, strings.Join(sandbox.Langs, ", "))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("%s %q: want text or json", KeyLogFormat, c.LogFormat)
	}
	var err error
	if c.Limits.Timeout, err = duration(v, KeyTimeout); err != nil {
		return nil, err
	}
	if c.Limits.MemoryBytes, err = size(v, KeyMemory); err != nil {
		return nil, err
	}
	if c.Limits.OutputBytes, err = size(v, KeyOutputCap); err != nil {
		return nil, err
	}
	if c.Limits.CPUs, err = positiveFloat(v, KeyCPUs); err != nil {
		return nil, err
	}
	if c.Limits.Pids, err = positiveInt(v, KeyPids); err != nil {
		return nil, err
	}
	if err := c.Limits.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func duration(v *viper.Viper, key string) (time.Duration, error) {
	raw := v.GetString(key)
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive duration such as 30s or 2m", key, raw)
	}
	return d, nil
}

func size(v *viper.Viper, key string) (int64, error) {
	raw := v.GetString(key)
	n, err := units.RAMInBytes(raw)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s %q: want a size such as 256m or 1g", key, raw)
	}
	return n, nil
}

func positiveFloat(v *viper.Viper, key string) (float64, error) {
	raw := v.GetString(key)
	var f float64
	if _, err := fmt.Sscan(raw, &f); err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%s %q: want a number above 0 such as 0.5", key, raw)
	}
	return f, nil
}

func positiveInt(v *viper.Viper, key string) (int64, error) {
	raw := v.GetString(key)
	var n int64
	if _, err := fmt.Sscan(raw, &n); err != nil || n <= 0 || fmt.Sprint(n) != strings.TrimSpace(raw) {
		return 0, fmt.Errorf("%s %q: want a whole number above 0", key, raw)
	}
	return n, nil
}
