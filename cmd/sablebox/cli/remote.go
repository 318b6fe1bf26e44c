package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sablebox/sablebox/pkg/client"
	"github.com/sablebox/sablebox/pkg/config"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/server"
)

// maxRemoteStdin bounds the stdin a run through a service carries: it
// travels in the request.
const maxRemoteStdin = 16 << 20

// runRemote runs req through the service cfg.Server names, with the same
// output and exit codes as a local run. The tool file and the workspace
// go by content; the output comes back by content and is written here.
func (a *app) runRemote(cmd *cobra.Command, req runner.Request) error {
	res, err := a.remoteResult(cmd, req)
	if err != nil {
		// As a local run does: one result object, with the error's status.
		res = &sandbox.Result{Status: sandbox.ErrorStatus(err), Reason: err.Error(), Limits: a.cfg.Limits}
		res.Finish(0)
	}
	return a.finish(res, err)
}

// remoteResult runs req through the service and writes what it returns
// of /output.
func (a *app) remoteResult(cmd *cobra.Command, req runner.Request) (*sandbox.Result, error) {
	cfg := a.cfg
	local := []string{config.KeyImage, config.KeyAuditFile, config.KeyMetricsFile, config.KeySeccomp,
		config.FlagName(config.KeyAnalysisMode), config.FlagName(config.KeyAnalysisFailOn), config.FlagName(config.KeyAnalysisImports)}
	for _, local := range append(local, settingKeys()...) {
		if f := cmd.Flags().Lookup(local); f != nil && f.Changed {
			a.log.Warnf("--%s applies to local runs; the service's operator decides it for runs through %s", local, cfg.Server)
		}
	}
	c, err := client.New(cfg.Server, cfg.Token)
	if err != nil {
		return nil, err
	}
	body := server.RunRequest{Command: req.Command, Args: req.Args, Env: req.Env, Limits: &server.Limits{
		TimeoutSeconds: cfg.Limits.Timeout.Seconds(), MemoryBytes: cfg.Limits.MemoryBytes, CPUs: cfg.Limits.CPUs,
		Pids: cfg.Limits.Pids, OutputBytes: cfg.Limits.OutputBytes,
	}}
	if cfg.Runtime != "auto" {
		body.Runtime = cfg.Runtime // the service checks the token may use it
	}
	if req.ToolPath != "" {
		tool, err := runner.ReadTool(req.ToolPath, req.Lang)
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(tool.Content) {
			return nil, fmt.Errorf("%w: tool file %s is not UTF-8 text, which a run through a service needs", sandbox.ErrInvalidSpec, req.ToolPath)
		}
		body.Tool = &server.ToolSource{Source: string(tool.Content), Lang: tool.Lang}
	}
	if req.Stdin != nil {
		data, err := io.ReadAll(io.LimitReader(req.Stdin, maxRemoteStdin+1))
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		if len(data) > maxRemoteStdin {
			return nil, fmt.Errorf("%w: stdin is over %d MiB, the most a run through a service carries", sandbox.ErrInvalidSpec, maxRemoteStdin>>20)
		}
		if utf8.Valid(data) {
			body.Stdin = string(data)
		} else {
			body.StdinBase64 = base64String(data)
		}
	}
	if req.Workspace != "" {
		files, err := runner.FilesFromDir(req.Workspace)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			body.Files = append(body.Files, server.FileContent{Path: f.Path, ContentBase64: base64String(f.Content), Executable: f.Executable})
		}
	}
	outDir := ""
	if req.Output != "" {
		if outDir, err = runner.OutputDir(req.Output); err != nil {
			return nil, err
		}
		body.Output = true
	}
	res, err := c.Run(cmd.Context(), body)
	if err != nil {
		return nil, err
	}
	if outDir != "" {
		for i, f := range res.Files {
			if res.Files[i].Content, err = c.File(cmd.Context(), res.RunID, f.Path); err != nil {
				res.Notes = append(res.Notes, fmt.Sprintf("output: %s could not be fetched: %v", f.Path, err))
			}
		}
		if err := runner.WriteOutput(outDir, res.Files); err != nil {
			res.Notes = append(res.Notes, "output: not everything could be written to "+outDir+": "+err.Error())
		}
	}
	return res, nil
}

// finish reports res (or err) as `sablebox run` does, and returns the
// exit code's error.
func (a *app) finish(res *sandbox.Result, err error) error {
	if a.cfg.JSON {
		if encErr := json.NewEncoder(a.streams.Out).Encode(res); encErr != nil && err == nil {
			err = fmt.Errorf("write result: %w", encErr)
		}
	} else {
		a.report(res)
	}
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return exitError{res.ExitCode}
	}
	return nil
}

// settingKeys are the backends' settings' keys: local matters, like
// --runtime.
func settingKeys() []string {
	var keys []string
	for _, st := range runner.Settings() {
		keys = append(keys, st.Key)
	}
	return keys
}

func base64String(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
