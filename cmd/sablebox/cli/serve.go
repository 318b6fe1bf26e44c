package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/sablebox/sablebox/pkg/audit"
	"github.com/sablebox/sablebox/pkg/config"
	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/seccomp"
	"github.com/sablebox/sablebox/pkg/server"
)

func newServeCmd(a *app) *cobra.Command {
	var (
		listen, tokens, certFile, keyFile string
		maxConcurrent, maxQueued          int
		grace                             time.Duration
		hostDirs                          []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run tools for clients over HTTP (see pkg/server/openapi.yaml)",
		Long: `Serve the sablebox API on a unix socket (mode 0660; the default), or on TCP
when asked, with TLS when a certificate and key are given. Clients need a
token from --tokens; they send a tool's source or a command, stdin, files
and limits within their token's ceiling, never host paths or engine
settings. Runs of the default shape take a warm container from a pool
(started ahead with every protection, used once, then removed); the
result's "pool" says whether a run hit or why it started cold. SIGTERM stops taking runs, lets those in flight finish for
--shutdown-grace, then cancels the rest; nothing is left behind.`,
		Example: `  echo 'tokens:' > tokens.yaml
  sablebox token new --name ci >> tokens.yaml   # prints the secret once, on stderr
  sablebox serve --tokens tokens.yaml
  sablebox serve --tokens tokens.yaml --listen tcp://127.0.0.1:8443 --tls-cert c.pem --tls-key k.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tokens == "" {
				return errors.New("--tokens FILE is required: make a token with `sablebox token new --name NAME`")
			}
			if (certFile == "") != (keyFile == "") {
				return errors.New("--tls-cert and --tls-key go together")
			}
			toks, err := server.LoadTokens(tokens)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			opts, err := a.runnerOptions()
			if err != nil {
				return err
			}
			opts.Registry, opts.HostDirs, opts.Pool = reg, hostDirs, a.cfg.Pool
			if opts.HostDirs == nil {
				opts.HostDirs = []string{} // clients send content, not host paths
			}
			if a.cfg.AuditFile != "" {
				log, err := audit.Open(a.cfg.AuditFile)
				if err != nil {
					return err
				}
				defer log.Close()
				opts.Audit = log
			}
			r, err := runner.New(opts)
			if err != nil {
				return err
			}
			defer r.Close()
			srv, err := server.New(server.Options{Runner: r, Tokens: toks, MaxConcurrent: maxConcurrent,
				MaxQueued: maxQueued, Registry: reg, Logger: a.log})
			if err != nil {
				return err
			}
			l, err := server.Listen(listen)
			if err != nil {
				return err
			}
			// A client has 10 s for its headers; idle connections close after
			// 2 minutes. No read or write deadline: one on the connection
			// would also end a client that waits for a long run.
			hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second,
				IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
			served := make(chan error, 1)
			go func() {
				if certFile != "" {
					served <- hs.ServeTLS(l, certFile, keyFile)
				} else {
					served <- hs.Serve(l)
				}
			}()
			a.log.Infof("serving on %s with %d tokens", listen, len(toks))
			select {
			case err := <-served:
				return fmt.Errorf("serve: %w", err)
			case <-cmd.Context().Done():
			}
			a.log.Info("shutting down: no new runs; waiting for those in flight")
			graceCtx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- srv.Shutdown(graceCtx) }()
			// Handlers of waiting clients end with their runs, which the
			// grace and then the runs' cleanup bound.
			httpCtx, cancelHTTP := context.WithTimeout(context.Background(), grace+time.Minute)
			defer cancelHTTP()
			httpErr := hs.Shutdown(httpCtx)
			if err := <-shut; err != nil {
				a.log.WithError(err).Warn("shutdown")
			}
			if httpErr != nil {
				return fmt.Errorf("shutdown: %w", httpErr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", server.DefaultListen, "unix:///path.sock or tcp://host:port")
	f.StringVar(&tokens, "tokens", "", "YAML file of the clients' tokens (names, SHA-256 hashes, rates, ceilings)")
	f.StringVar(&certFile, "tls-cert", "", "TLS certificate (PEM); with --tls-key, serve HTTPS")
	f.StringVar(&keyFile, "tls-key", "", "TLS private key (PEM)")
	f.IntVar(&maxConcurrent, "max-concurrent", 0, "runs at once (default: the number of CPUs)")
	f.IntVar(&maxQueued, "max-queued", 0, "runs waiting beyond those (default: 4 × max-concurrent); more get 429")
	f.DurationVar(&grace, "shutdown-grace", 30*time.Second, "how long runs in flight may finish after SIGTERM before they are cancelled")
	f.StringSliceVar(&hostDirs, "allow-host-dir", nil, "host directories clients may name as workspace or output (default: none; clients send files)")
	f.Bool(config.KeyPool, true, "keep warm pools of one-shot containers, so that runs of the default shape skip the container's start")
	f.Int(config.KeyPoolMin, pool.DefaultMin, "warm containers kept ready per container backend")
	f.Int(config.KeyPoolMax, pool.DefaultMax, "most warm containers per container backend (the pool grows toward it while runs find it empty)")
	f.Duration(config.KeyPoolIdle, pool.DefaultIdle, "how long a warm container waits for a run before it is replaced")
	f.Int(config.KeyPoolRefills, pool.DefaultRefills, "most warm containers started at once")
	f.String(config.KeySeccomp, seccomp.DefaultName, "syscall filter of every run: default, python, strict, a profile file in Docker's JSON form, or unconfined (needs seccomp-unsafe: true in the config file)")
	f.Bool(config.KeyPoolOutput, false, "give warm containers an /output directory: runs that ask for one take them, the others start cold")
	addAnalysisFlags(cmd)
	return cmd
}

func newTokenCmd(*app) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Make tokens for `sablebox serve`"}
	var name string
	mk := &cobra.Command{
		Use:   "new --name NAME",
		Short: "Make a token: its secret goes to stderr once, its entry under `tokens:` of the tokens file to stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return errors.New("--name is required: it names the client in the audit record")
			}
			secret, sum := server.NewToken()
			fmt.Fprintf(cmd.ErrOrStderr(), "token for %s (give it to the client; it is not stored): %s\n", name, secret)
			fmt.Fprintf(cmd.OutOrStdout(), "  - name: %s\n    sha256: %s\n", name, sum)
			return nil
		},
	}
	mk.Flags().StringVar(&name, "name", "", "the client's name")
	cmd.AddCommand(mk)
	return cmd
}
