package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/setting"
)

// Setting keys, shared by flags, variables (SABLEBOX_ + upper case, '-' as
// '_') and the config file.
const (
	KeyRuntime   = "runtime"
	KeyTimeout   = "timeout"
	KeyMemory    = "memory"
	KeyCPUs      = "cpus"
	KeyPids      = "pids"
	KeyWorkspace = "workspace"
	KeyLang      = "lang"
	KeyOutput    = "output"
	KeyEnv       = "env"
	KeyImage     = "image"
	KeyJSON      = "json"
	KeyQuiet     = "quiet"
	KeyRawOutput = "raw-output"
	KeyOutputCap = "output-limit"
	KeyLogFormat = "log-format"
	KeyLogLevel  = "log-level"
	KeyAuditFile = "audit-file"
	// KeyServer names a `sablebox serve` service to run through (also
	// SABLEBOX_HOST), and KeyToken the token it takes.
	KeyServer = "server"
	KeyToken  = "token"
	// KeyMetricsFile names a file that receives the run's metrics in the
	// textfile format of node_exporter's textfile collector.
	KeyMetricsFile = "metrics-file"
	// The warm pools of `sablebox serve` (see pkg/pool): on by default
	// there; a bare `sablebox run` never keeps one.
	KeyPool        = "pool"
	KeyPoolMin     = "pool-min"
	KeyPoolMax     = "pool-max"
	KeyPoolIdle    = "pool-idle"
	KeyPoolRefills = "pool-refills"
	KeyPoolOutput  = "pool-output"
	// KeySeccomp chooses the syscall filter: default, python, strict, a
	// file, or unconfined; KeySeccompUnsafe, in the config file only, is
	// the opt-in that unconfined and high-risk profiles need.
	KeySeccomp       = "seccomp"
	KeySeccompUnsafe = "seccomp-unsafe"
	// The static-analysis gate (see pkg/analysis): its mode (enforce,
	// warn, off; the flag --analysis), the lowest severity that refuses a
	// run (--analysis-fail-on), and the import allowlist that replaces the
	// standard library's (config file or SABLEBOX_ANALYSIS_IMPORTS).
	KeyAnalysisMode    = "analysis.mode"
	KeyAnalysisFailOn  = "analysis.fail-on"
	KeyAnalysisImports = "analysis.imports"
)

// flagNames are the flags of the keys whose flag is not named as the key
// (a key in a section of the config file).
var flagNames = map[string]string{KeyAnalysisMode: "analysis", KeyAnalysisFailOn: "analysis-fail-on", KeyAnalysisImports: "analysis-imports"}

// FlagName is the command-line flag that sets key.
func FlagName(key string) string {
	if f, ok := flagNames[key]; ok {
		return f
	}
	return key
}

// KeyForFlag is the key a command-line flag sets.
func KeyForFlag(flag string) string {
	for key, f := range flagNames {
		if f == flag {
			return key
		}
	}
	return flag
}

// EnvHost is the other variable that sets KeyServer, as DOCKER_HOST names
// a daemon.
const EnvHost = EnvPrefix + "_HOST"

// EnvPrefix prefixes the environment variables that set each key.
const EnvPrefix = "SABLEBOX"

// Runtimes lists the values of the runtime setting.
var Runtimes = []string{"auto", "docker", "podman", "process", "kubernetes"}

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
	RawOutput bool
	Limits    sandbox.Limits
	LogFormat string
	LogLevel  string
	AuditFile string
	// Settings are the backends' own settings (runner.Settings), by key.
	Settings setting.Values
	// Server is a service to run through ("" for a local run), and Token
	// the token it takes.
	Server, Token string
	// MetricsFile receives the run's metrics (node_exporter textfile).
	MetricsFile string
	// Pool sizes the warm pools a service keeps (nil: none).
	Pool *pool.Config
	// Seccomp is the profile runs get (seccomp.Load's reference), and
	// SeccompUnsafe the config file's opt-in to unsafe ones.
	Seccomp       string
	SeccompUnsafe bool
	// Analysis is the static-analysis gate's policy.
	Analysis analysis.Policy
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
	v.SetDefault(KeyPool, true)
	v.SetDefault(KeyPoolMin, pool.DefaultMin)
	v.SetDefault(KeyPoolMax, pool.DefaultMax)
	v.SetDefault(KeyPoolIdle, pool.DefaultIdle.String())
	v.SetDefault(KeyPoolRefills, pool.DefaultRefills)
	v.SetDefault(KeySeccomp, "default")
	v.SetDefault(KeyAnalysisMode, string(analysis.Enforce))
	v.SetDefault(KeyAnalysisFailOn, analysis.High.String())
}

// NewViper returns a viper that reads SABLEBOX_* variables and, when one
// exists, sablebox.yaml from ., $XDG_CONFIG_HOME/sablebox or /etc/sablebox.
// file names a config file to use instead of searching.
func NewViper(file string) (*viper.Viper, error) {
	v := viper.New()
	SetDefaults(v)
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_", ".", "_"))
	v.AutomaticEnv()
	_ = v.BindEnv(KeyServer, EnvName(KeyServer), EnvHost) // both name it; the first set wins
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
			if used := v.ConfigFileUsed(); used != "" {
				return nil, fmt.Errorf("config file %s: %s", used, oneLine(err))
			}
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
	for _, k := range v.AllKeys() {
		if known := knownKeys(); !slices.Contains(known, k) {
			return fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return nil
}

// knownKeys are every setting's key: sablebox's own, then the backends'.
func knownKeys() []string {
	keys := append([]string{}, coreKeys...)
	for _, st := range runner.Settings() {
		keys = append(keys, st.Key)
	}
	return keys
}

// coreKeys are the keys of the settings that are not a backend's.
var coreKeys = []string{KeyRuntime, KeyTimeout, KeyMemory, KeyCPUs, KeyPids, KeyWorkspace, KeyOutput,
	KeyEnv, KeyLang, KeyImage, KeyJSON, KeyQuiet, KeyRawOutput, KeyOutputCap, KeyLogFormat, KeyLogLevel, KeyAuditFile,
	KeyServer, KeyToken, KeyMetricsFile,
	KeyPool, KeyPoolMin, KeyPoolMax, KeyPoolIdle, KeyPoolRefills, KeyPoolOutput,
	KeySeccomp, KeySeccompUnsafe, KeyAnalysisMode, KeyAnalysisFailOn, KeyAnalysisImports,
}

// Load reads and validates every setting from v. flags are the command's
// flags (nil for none), so that an error can say where a bad value came
// from: a flag, a SABLEBOX_ variable, or a key in the config file.
func Load(v *viper.Viper, flags *pflag.FlagSet) (*Config, error) {
	l := &loader{v: v, flags: flags}
	c := &Config{
		Runtime:     l.str(KeyRuntime),
		Image:       l.str(KeyImage),
		Workspace:   l.str(KeyWorkspace),
		Lang:        l.str(KeyLang),
		Output:      l.str(KeyOutput),
		Env:         v.GetStringSlice(KeyEnv),
		JSON:        l.boolean(KeyJSON),
		Quiet:       l.boolean(KeyQuiet),
		RawOutput:   l.boolean(KeyRawOutput),
		LogFormat:   l.str(KeyLogFormat),
		LogLevel:    l.str(KeyLogLevel),
		AuditFile:   l.str(KeyAuditFile),
		Server:      l.str(KeyServer),
		MetricsFile: l.str(KeyMetricsFile),
		Token:       l.str(KeyToken),
		Limits:      sandbox.DefaultLimits(),
		Settings:    l.backendSettings(),
	}
	if !slices.Contains(Runtimes, c.Runtime) {
		l.fail(KeyRuntime, "want one of "+strings.Join(Runtimes, ", "))
	}
	if c.Lang != "" && !slices.Contains(sandbox.Langs, c.Lang) {
		l.fail(KeyLang, "want one of "+strings.Join(sandbox.Langs, ", "))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		l.fail(KeyLogFormat, "want text or json")
	}
	c.Limits.Timeout = l.duration(KeyTimeout)
	c.Limits.MemoryBytes = l.size(KeyMemory)
	c.Limits.OutputBytes = l.size(KeyOutputCap)
	c.Limits.CPUs = l.positiveFloat(KeyCPUs)
	c.Limits.Pids = l.positiveInt(KeyPids)
	c.Pool = l.pool()
	c.Seccomp = l.str(KeySeccomp)
	c.SeccompUnsafe = l.configOnly(KeySeccompUnsafe)
	c.Analysis = l.analysis()
	if l.err != nil {
		return nil, l.err
	}
	if err := c.Limits.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// analysis reads the static-analysis gate's policy.
func (l *loader) analysis() analysis.Policy {
	var p analysis.Policy
	var err error
	if p.Mode, err = analysis.ParseMode(l.str(KeyAnalysisMode)); err != nil {
		l.fail(KeyAnalysisMode, "want "+strings.Join(analysis.Modes, ", "))
	}
	if p.FailOn, err = analysis.ParseSeverity(l.str(KeyAnalysisFailOn)); err != nil {
		l.fail(KeyAnalysisFailOn, "want low, medium, high or critical")
	}
	if l.v.IsSet(KeyAnalysisImports) {
		p.Imports = []string{}
		for _, m := range l.v.GetStringSlice(KeyAnalysisImports) {
			for _, m := range strings.Split(m, ",") { // a flag or a variable gives "a,b"
				if m = strings.TrimSpace(m); m == "" {
					continue
				}
				if !validModule(m) {
					l.fail(KeyAnalysisImports, fmt.Sprintf("%q is not a module name: want top-level Python modules such as json or numpy", m))
				}
				p.Imports = append(p.Imports, m)
			}
		}
	}
	return p
}

// validModule reports whether m is a top-level Python module name.
func validModule(m string) bool {
	for i, r := range m {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return m != ""
}

// pool reads the warm pools' settings; nil when they are off.
func (l *loader) pool() *pool.Config {
	on := l.boolean(KeyPool)
	cfg := pool.Config{Min: int(l.count(KeyPoolMin)), Max: int(l.count(KeyPoolMax)),
		Idle: l.duration(KeyPoolIdle), Refills: int(l.count(KeyPoolRefills)), Output: l.boolean(KeyPoolOutput)}
	if l.err != nil || !on {
		return nil
	}
	if cfg.Max == 0 {
		l.fail(KeyPoolMax, "want 1 or more (to keep no pool, set pool: false)")
		return nil
	}
	if err := cfg.Validate(); err != nil {
		l.fail(KeyPool, err.Error())
		return nil
	}
	return &cfg
}

// configOnly reads a true-or-false setting that only the config file may
// set: an opt-in out of a protection is a decision written down, not a
// variable inherited or a flag typed.
func (l *loader) configOnly(key string) bool {
	if os.Getenv(EnvName(key)) != "" || (l.flags != nil && l.flags.Lookup(FlagName(key)) != nil && l.flags.Lookup(FlagName(key)).Changed) {
		l.fail(key, "set it in the config file (sablebox.yaml), not in a flag or a variable")
		return false
	}
	if !l.v.InConfig(key) {
		return false
	}
	return l.boolean(key)
}

// backendSettings reads every backend setting that was given, and checks
// each with the backend's own check.
func (l *loader) backendSettings() setting.Values {
	values := setting.Values{}
	for _, st := range runner.Settings() {
		switch {
		case st.List && l.v.IsSet(st.Key):
			values[st.Key] = strings.Join(l.v.GetStringSlice(st.Key), ",") // flags and variables give "a,b"
		case !st.List:
			if val := l.str(st.Key); val != "" {
				values[st.Key] = val
			}
		}
		if val, ok := values[st.Key]; ok && st.Check != nil {
			if err := st.Check(val); err != nil {
				l.fail(st.Key, err.Error())
			}
		}
	}
	return values
}

// loader reads settings and keeps the first bad one.
type loader struct {
	v     *viper.Viper
	flags *pflag.FlagSet
	err   error
}

// fail records that key's value is bad: the message names the key, the
// value given and where it came from, then what is wanted.
func (l *loader) fail(key, want string) {
	if l.err == nil {
		l.err = fmt.Errorf("%s %s: %s", l.source(key), given(l.v.Get(key)), want)
	}
}

// source says where key's value came from, in the words a user sets it.
func (l *loader) source(key string) string {
	if l.flags != nil {
		if f := l.flags.Lookup(FlagName(key)); f != nil && f.Changed {
			return "--" + f.Name
		}
	}
	if name := EnvName(key); os.Getenv(name) != "" {
		return name
	}
	if l.v.InConfig(key) {
		return key + " in " + l.v.ConfigFileUsed()
	}
	return key
}

// given shows a value as it was given: a string quoted, anything else
// (a list or a map in the config file) as YAML would show it.
func given(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return `""`
	default:
		return fmt.Sprintf("%v (a %T)", v, v)
	}
}

// scalar reports whether key holds one value, not a list or a map.
func (l *loader) scalar(key string) bool {
	switch l.v.Get(key).(type) {
	case []any, []string, map[string]any:
		l.fail(key, "want a single value")
		return false
	}
	return true
}

func (l *loader) str(key string) string {
	if !l.scalar(key) {
		return ""
	}
	return l.v.GetString(key)
}

func (l *loader) boolean(key string) bool {
	if !l.scalar(key) {
		return false
	}
	b, err := cast.ToBoolE(l.v.Get(key))
	if err != nil && l.v.Get(key) != nil {
		l.fail(key, "want true or false")
	}
	return b
}

func (l *loader) duration(key string) time.Duration {
	raw := l.str(key)
	d, err := time.ParseDuration(raw)
	if l.err == nil && (err != nil || d <= 0) {
		l.fail(key, "must be a positive duration with a unit, such as 30s, 1.5m or 2h")
	}
	return d
}

func (l *loader) size(key string) int64 {
	raw := l.str(key)
	n, err := units.RAMInBytes(raw)
	if l.err == nil && (err != nil || n <= 0) {
		l.fail(key, "want a size such as 256m or 1g")
	}
	return n
}

func (l *loader) positiveFloat(key string) float64 {
	raw := l.str(key)
	var f float64
	if _, err := fmt.Sscan(raw, &f); l.err == nil && (err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f)) {
		l.fail(key, "want a number above 0 such as 0.5")
	}
	return f
}

// count reads a whole number of 0 or more.
func (l *loader) count(key string) int64 {
	raw := l.str(key)
	var n int64
	if _, err := fmt.Sscan(raw, &n); l.err == nil && (err != nil || n < 0 || fmt.Sprint(n) != strings.TrimSpace(raw)) {
		l.fail(key, "want a whole number, 0 or more")
	}
	return n
}

func (l *loader) positiveInt(key string) int64 {
	raw := l.str(key)
	var n int64
	if _, err := fmt.Sscan(raw, &n); l.err == nil && (err != nil || n <= 0 || fmt.Sprint(n) != strings.TrimSpace(raw)) {
		l.fail(key, "want a whole number above 0")
	}
	return n
}

// EnvName is the environment variable that sets key (SABLEBOX_OUTPUT_LIMIT).
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(key))
}

// notSettings are SABLEBOX_ variables that are not settings but are read
// by sablebox or its tests.
var notSettings = []string{"SABLEBOX_DEBUG", "SABLEBOX_REQUIRE", "SABLEBOX_IMAGE"}

// UnknownEnv lists the SABLEBOX_ variables in env (KEY=VALUE) that set no
// setting: a misspelt one would otherwise leave a default in force.
func UnknownEnv(env []string) []string {
	known := map[string]bool{}
	for _, k := range knownKeys() {
		known[EnvName(k)] = true
	}
	for _, n := range notSettings {
		known[n] = true
	}
	known[EnvHost] = true
	var unknown []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	return unknown
}

// KnownEnv lists the variables that set a setting.
func KnownEnv() []string {
	keys := knownKeys()
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = EnvName(k)
	}
	return names
}

// oneLine folds a multi-line parser error into one line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
