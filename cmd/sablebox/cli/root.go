package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/sablebox/sablebox/pkg/config"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Streams are the standard streams a command uses; tests pass buffers.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// exitError ends sablebox with a code and no further message: the run has
// already reported itself.
type exitError struct{ code int }

// Error says which code the run ended with.
func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the command line args and returns the process's exit code.
// Errors become one line on stderr; a panic becomes one line and 125.
func Main(ctx context.Context, args []string, s Streams) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(s.Err, "sablebox: internal error: %v (please report it with the output of `sablebox version`)\n", p)
			if os.Getenv("SABLEBOX_DEBUG") != "" {
				s.Err.Write(debug.Stack())
			}
			code = sandbox.ExitError
		}
	}()
	root := newRoot(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	fmt.Fprintf(s.Err, "sablebox: %s\n", oneLine(err.Error()))
	return exitCode(err)
}

// exitCode is the exit code of `sablebox` for an error, from the table
// that gives a run's (sandbox.ExitCodeFor).
func exitCode(err error) int {
	return sandbox.ExitCodeFor(sandbox.ErrorStatus(err), 0)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// app is what every command shares: settings, logger, streams.
type app struct {
	streams    Streams
	configFile string
	v          *viper.Viper
	cfg        *config.Config
	log        *logrus.Logger
}

func newRoot(s Streams) *cobra.Command {
	a := &app{streams: s}
	root := &cobra.Command{
		Use:   "sablebox",
		Short: "Run untrusted tool code in a sandbox",
		Long: `sablebox runs each tool in a fresh, locked-down sandbox: a Docker or Podman
container (or gVisor under Docker), or with no engine a process sandbox of
namespaces, cgroup, rlimits, Landlock and seccomp. Every run has no network,
no capabilities, a read-only root, a noexec /tmp, memory, CPU and process
limits, a non-root user and a seccomp filter; ` + "`sablebox doctor`" + ` says what
this host gives.

Settings come from flags, SABLEBOX_* variables (SABLEBOX_TIMEOUT=2m) and
sablebox.yaml in ., $XDG_CONFIG_HOME/sablebox or /etc/sablebox, in that order.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: a.load,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w (see --help)", err)
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "config file (default: search for sablebox.yaml)")
	pf.String(config.KeyLogFormat, "text", "log format: text or json")
	pf.String(config.KeyLogLevel, "warning", "log level: debug, info, warning, error")
	pf.String(config.KeyAuditFile, "", "append one JSON audit record per run to this file")
	for _, st := range runner.Settings() { // each backend's own, declared in its package
		help := st.Help + " [" + strings.Join(st.Backends, ", ") + "]"
		if st.List {
			pf.StringSlice(st.Key, nil, help)
		} else {
			pf.String(st.Key, "", help)
		}
	}
	pf.String(config.KeyRuntime, "auto", "sandbox backend: "+strings.Join(config.Runtimes, ", "))
	pf.String(config.KeyImage, "", "sandbox image (default "+imageDefault+")")
	pf.Bool(config.KeyJSON, false, "print one JSON object as the result")
	pf.BoolP(config.KeyQuiet, "q", false, "do not print which sandbox ran the tool (printed on stderr only when it is a terminal)")
	pf.Bool(config.KeyRawOutput, false, "pass the tool's output to a terminal unescaped (it may then set the title, move the cursor or forge lines; piped output is always byte-exact)")

	root.AddCommand(newRunCmd(a), newServeCmd(a), newTokenCmd(a), newDoctorCmd(a), newImageCmd(a), newProfileCmd(a), newSeccompCmd(a), newScanCmd(a), newSelftestCmd(a), newTestCmd(a), newK8sCmd(a), newVersionCmd(a))
	return root
}

// load reads the settings and sets up logging before any command runs.
func (a *app) load(cmd *cobra.Command, _ []string) error {
	v, err := config.NewViper(a.configFile)
	if err != nil {
		return err
	}
	var bindErr error
	bind := func(f *pflag.Flag) {
		if f.Name != "config" && f.Name != "help" {
			bindErr = errors.Join(bindErr, v.BindPFlag(config.KeyForFlag(f.Name), f))
		}
	}
	cmd.Flags().VisitAll(bind)
	cmd.InheritedFlags().VisitAll(bind)
	if bindErr != nil {
		return bindErr
	}
	cfg, err := config.Load(v, cmd.Flags())
	if err != nil {
		return err
	}
	a.v, a.cfg = v, cfg
	a.log = logrus.New()
	a.log.SetOutput(a.streams.Err)
	if cfg.LogFormat == "json" {
		a.log.SetFormatter(&logrus.JSONFormatter{})
	}
	level, err := logrus.ParseLevel(cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("%s %q: want debug, info, warning or error", config.KeyLogLevel, cfg.LogLevel)
	}
	a.log.SetLevel(level)
	for _, name := range config.UnknownEnv(os.Environ()) {
		a.log.Warnf("%s sets nothing and is ignored: is it misspelt? (a setting's variable is SABLEBOX_ and its name, such as SABLEBOX_TIMEOUT)", name)
	}
	return nil
}
