package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
)

// The alert rules are valid and each fires on what it watches
// (compose/alerts_test.yml), checked by Debian's promtool.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	sandboxtest.SkipUnlessRequired(t, "prometheus", err)
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../../compose"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// A real Prometheus, on loopback, scrapes a serving sablebox and counts
// the run it made, with the alert rules loaded.
func TestPrometheusScrapesTheService(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	sandboxtest.SkipUnlessRequired(t, "prometheus", err)
	ts := newTestServer(t, Options{}, Policy{})
	if a := ts.do("POST", "/v1/runs", secret, RunRequest{Command: []string{"true"}, Wait: true}); a.status != 200 {
		t.Fatalf("run: %d %s", a.status, a.body)
	}
	target := strings.TrimPrefix(ts.http.URL, "http://")
	dir := t.TempDir()
	rules, err := filepath.Abs("../../compose/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\n"+
		"scrape_configs:\n  - job_name: sablebox\n    static_configs: [{targets: [%q]}]\n", rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	query := fmt.Sprintf(`sablebox_tool_executions_total{status="ok",backend=%q}`, backendName())
	deadline := time.Now().Add(60 * time.Second)
	for {
		value, err := promQuery(addr, query)
		if err == nil && value == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never counted the run (%q: %q, %v); its log:\n%s", query, value, err, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The rules were loaded.
	resp, err := http.Get("http://" + addr + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rulesAnswer struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name string } `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rulesAnswer); err != nil || len(rulesAnswer.Data.Groups) != 1 ||
		len(rulesAnswer.Data.Groups[0].Rules) < 2 {
		t.Fatalf("rules loaded: %+v, %v", rulesAnswer, err)
	}
}

// promQuery returns the value of an instant query's first sample.
func promQuery(addr, query string) (string, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var answer struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return "", err
	}
	if len(answer.Data.Result) == 0 {
		return "", fmt.Errorf("no sample yet")
	}
	return fmt.Sprint(answer.Data.Result[0].Value[1]), nil
}

func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
