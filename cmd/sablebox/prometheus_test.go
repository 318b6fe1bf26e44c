package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// A real Prometheus (Debian's), on loopback, scrapes a running
// `sablebox serve` with the alert rules loaded, and counts the run it made.
func TestPrometheusScrapesSableboxServe(t *testing.T) {
	requireDocker(t)
	prom, err := exec.LookPath("prometheus")
	sandboxtest.SkipUnlessRequired(t, "prometheus", err)
	rules, err := filepath.Abs("../../compose/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	serve := startServe(t, writeTokens(t, "scraped", "sbx_s", ""))
	req, _ := http.NewRequest("POST", "http://"+serve.addr+"/v1/runs", strings.NewReader(`{"command": ["true"], "wait": true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sbx_s")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("run through the service: %v %v\n%s", resp, err, serve.logs.String())
	}
	resp.Body.Close()
	promAddr := freePort(t)

	config := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\n"+
		"scrape_configs:\n  - job_name: sablebox\n    static_configs: [{targets: [%q]}]\n", rules, serve.addr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pcmd := exec.CommandContext(ctx, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	var promLog bytes.Buffer
	pcmd.Stdout, pcmd.Stderr = &promLog, &promLog
	if err := pcmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = pcmd.Wait() }()
	query := `sablebox_tool_executions_total{status="ok",backend="docker"}`
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		value, err := promQuery(promAddr, query)
		if err == nil && value == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never counted the run (%s: %q, %v); its log:\n%s", query, value, err, promLog.String())
		}
	}
	if value, err := promQuery(promAddr, `count(ALERTS) or vector(0)`); err != nil || value != "0" {
		t.Errorf("alerts firing on one good run: %q, %v", value, err)
	}
	var rulesAnswer struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name string } `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	r, err := http.Get("http://" + promAddr + "/api/v1/rules")
	if err == nil {
		defer r.Body.Close()
		err = json.NewDecoder(r.Body).Decode(&rulesAnswer)
	}
	if err != nil || len(rulesAnswer.Data.Groups) != 1 || len(rulesAnswer.Data.Groups[0].Rules) < 6 {
		t.Errorf("the alert rules were not loaded: %+v, %v", rulesAnswer, err)
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
