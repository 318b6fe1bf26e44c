package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/podman"
	"github.com/sablebox/sablebox/pkg/seccomp"
	"github.com/sablebox/sablebox/pkg/server"
)

// jsonTool is the small JSON tool of the table: it reads a document on
// stdin and prints a summary.
const jsonTool = `import json, sys
doc = json.load(sys.stdin)
print(json.dumps({"items": len(doc["items"]), "total": sum(i["n"] for i in doc["items"])}))
`

var poolLoadArgs = flag.String("pool-load-args", "--pool-min 4 --pool-max 8 --pool-refills 2", "the pool settings of the sustained load row of BenchmarkPool")

const jsonInput = `{"items": [{"n": 1}, {"n": 2}, {"n": 3}]}`

// poolRow is one line of the warm pool's table.
type poolRow struct {
	what, target string
	lat          []time.Duration // sorted
	rate         float64         // runs/s; 0: not a throughput row
	note         string
}

func (r poolRow) String() string {
	p50, p99 := r.lat[len(r.lat)/2], r.lat[min(len(r.lat)-1, len(r.lat)*99/100)]
	rate := ""
	if r.rate > 0 {
		rate = fmt.Sprintf("%6.1f/s", r.rate)
	}
	return fmt.Sprintf("%-52s %8s %7.1fms %7.1fms   %-28s %s", r.what, rate, ms(p50), ms(p99), r.target, r.note)
}

// BenchmarkPool prints the warm pool's figures side by side in one run:
// a pool hit through the library (a bare command and a JSON tool on
// stdin), through `sablebox serve` from `sablebox run --server`, and
// sustained load from 4 clients on the pool and on the process sandbox.
// `make bench` runs it with BenchmarkCompareCLI, which has the cold
// lines (docker run, the bare interpreter, bwrap).
func BenchmarkPool(b *testing.B) {
	c := requireDocker(b)
	be, err := docker.New("", docker.WithClient(c))
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	runs := *compareRuns
	var rows []poolRow
	limits := sandbox.DefaultLimits()
	shape := &sandbox.Spec{Image: image.DefaultTag, Limits: limits, Seccomp: seccomp.DefaultProfile()}

	// One run at a time, each with a warm container ready.
	libraryRows := func(name string, w sandbox.Warmer) {
		p, err := pool.New(w, shape, pool.Config{Min: 1, Max: 1}, pool.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		hit := func(spec *sandbox.Spec) time.Duration {
			for p.Size() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			t0 := time.Now()
			res, err := p.Run(context.Background(), spec)
			took := time.Since(t0)
			if err != nil || res.Status != sandbox.StatusOK || res.Pool != pool.Hit {
				b.Fatalf("%s: %+v %v", name, res, err)
			}
			return took
		}
		var bare, tool []time.Duration
		for range runs {
			bare = append(bare, hit(&sandbox.Spec{RunID: sandbox.NewRunID(), Image: shape.Image, Limits: limits,
				Seccomp: shape.Seccomp, Command: []string{"python3", "-c", "pass"}}))
			tool = append(tool, hit(&sandbox.Spec{RunID: sandbox.NewRunID(), Image: shape.Image, Limits: limits,
				Seccomp: shape.Seccomp, Tool: &sandbox.ToolFile{Name: "summary.py", Content: []byte(jsonTool)},
				Stdin: strings.NewReader(jsonInput)}))
		}
		slices.Sort(bare)
		slices.Sort(tool)
		rows = append(rows,
			poolRow{what: "pool hit, python3 -c pass, " + name + ", library", target: "p50 <= 25 ms", lat: bare},
			poolRow{what: "pool hit, JSON tool on stdin, " + name + ", library", target: "p50 <= 35 ms", lat: tool})
	}
	libraryRows("docker", be)
	rows = append(rows, gateRows(b, runs)...)
	if pb, err := podman.New(podman.Options{}); err == nil && pb.Check(context.Background()) == nil {
		libraryRows("podman", pb.(sandbox.Warmer))
		pb.Close()
	}

	// Through the service, from the CLI: each run is a sablebox process.
	secret := "sbx_poolbench"
	tokens := writeTokens(b, "bench", secret, ", rate: 100000, burst: 100000")
	serve := startServe(b, tokens, "--pool-min", "2", "--pool-max", "2")
	var cli []time.Duration
	misses := 0
	for range runs {
		time.Sleep(300 * time.Millisecond) // the pool refills between runs
		cmd := exec.Command(binary, "run", "--server", "http://"+serve.addr, "--json", "--", "python3", "-c", "pass")
		cmd.Env = append(os.Environ(), "SABLEBOX_TOKEN="+secret)
		t0 := time.Now()
		out, err := cmd.Output()
		took := time.Since(t0)
		var res sandbox.Result
		if err != nil || json.Unmarshal(out, &res) != nil || res.Status != sandbox.StatusOK {
			b.Fatalf("%v: %s", err, out)
		}
		if res.Pool != pool.Hit {
			misses++
			continue
		}
		cli = append(cli, took)
	}
	serve.stop()
	slices.Sort(cli)
	rows = append(rows, poolRow{what: "pool hit via sablebox serve, from sablebox run --server", target: "p50 <= 35 ms", lat: cli,
		note: fmt.Sprintf("(%d of %d hit)", len(cli), len(cli)+misses)})

	// Sustained load: 4 clients, as many runs as they can.
	load := func(runtime string, args ...string) poolRow {
		serve := startServe(b, tokens, append([]string{"--runtime", runtime, "--max-concurrent", "4"}, args...)...)
		defer serve.stop()
		time.Sleep(2 * time.Second) // the pool fills
		body, _ := json.Marshal(server.RunRequest{Command: []string{"python3", "-c", "pass"}, Wait: true})
		var mu sync.Mutex
		var lat []time.Duration
		hits := 0
		var wg sync.WaitGroup
		t0 := time.Now()
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 3 * runs {
					req, _ := http.NewRequest("POST", "http://"+serve.addr+"/v1/runs", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+secret)
					s := time.Now()
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					data, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					var res sandbox.Result
					if resp.StatusCode != 200 || json.Unmarshal(data, &res) != nil || res.Status != sandbox.StatusOK {
						b.Errorf("%d %s", resp.StatusCode, data)
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(s))
					if res.Pool == pool.Hit {
						hits++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(t0)
		slices.Sort(lat)
		row := poolRow{lat: lat, rate: float64(len(lat)) / elapsed.Seconds()}
		if runtime != "process" {
			row.note = fmt.Sprintf("(%d%% hits; %s)", 100*hits/max(1, len(lat)), strings.Join(args, " "))
		}
		return row
	}
	dockerLoad := load("docker", strings.Fields(*poolLoadArgs)...)
	dockerLoad.what, dockerLoad.target = "4 clients, sustained, pool on docker, via serve", ">= 20/s, p99 <= 150 ms"
	podmanLoad := load("podman", strings.Fields(*poolLoadArgs)...)
	podmanLoad.what, podmanLoad.target = "4 clients, sustained, pool on podman, via serve", ">= 20/s, p99 <= 150 ms"
	processLoad := load("process")
	processLoad.what, processLoad.target = "4 clients, sustained, process sandbox, via serve", ">= 50/s"
	rows = append(rows, dockerLoad, podmanLoad, processLoad)

	var report strings.Builder
	fmt.Fprintf(&report, "\n%-52s %8s %9s %9s   %-28s   (%d runs a line; load: %d per client)\n", "warm pool", "rate", "p50", "p99", "target", runs, 3*runs)
	for _, r := range rows {
		report.WriteString(r.String() + "\n")
		b.ReportMetric(ms(r.lat[len(r.lat)/2]), metricName(r.what)+"-p50-ms")
	}
	fmt.Fprint(os.Stdout, report.String()+"\n")
}

// metricName turns a row's words into a metric unit: "pool-hit-python3-c-pass-docker-library".
func metricName(what string) string {
	f := strings.FieldsFunc(strings.ToLower(what), func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') })
	return strings.Join(f, "-")
}

// tool200 is a 200-line Python tool: the example tools, one after
// another, behind an exit.
func tool200(b *testing.B) string {
	files, _ := filepath.Glob("../../examples/python/*.py")
	var lines []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimRight(string(src), "\n"), "\n")...)
	}
	if len(lines) < 200 {
		b.Fatalf("the examples have %d lines, not 200", len(lines))
	}
	// It exits at once: the rows time the gate and the run, not the tools.
	return "import sys\nsys.exit(0)\n" + strings.Join(lines[:198], "\n") + "\n"
}

// gateRows are the static-analysis gate's figures: its scan of a
// 200-line tool it has not seen, alone, and the pool hits of that tool
// through the Runner with the gate on and off (each run a tool of new
// content, so that no verdict is remembered), run by turns: their
// difference is the gate's share of a warm run.
func gateRows(b *testing.B, runs int) []poolRow {
	src := tool200(b)
	fresh := func(i int) []byte { return []byte(src + "# run " + strconv.Itoa(i) + " " + sandbox.NewRunID() + "\n") }
	var scan []time.Duration
	g := analysis.NewGate(analysis.Policy{})
	for i := range runs {
		t0 := time.Now()
		if v := g.Check(context.Background(), analysis.Subject{Lang: analysis.LangPython, Source: fresh(i)}); v.Err != nil || v.Refuses() {
			b.Fatalf("the 200-line tool: %v %v", v.Err, v.Findings)
		}
		scan = append(scan, time.Since(t0))
	}
	newRunner := func(mode analysis.Mode) *runner.Runner {
		r, err := runner.New(runner.Options{Runtime: "docker", Pool: &pool.Config{Min: 1, Max: 1}, Analysis: analysis.Policy{Mode: mode}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Ready(context.Background()); err != nil {
			b.Fatal(err)
		}
		return r
	}
	on, off := newRunner(analysis.Enforce), newRunner(analysis.Off)
	defer on.Close()
	defer off.Close()
	hit := func(r *runner.Runner, i int) (time.Duration, bool) {
		time.Sleep(300 * time.Millisecond) // the pool refills between runs
		t0 := time.Now()
		res, err := r.Run(context.Background(), runner.Request{Tool: &sandbox.ToolFile{Name: "tool.py", Content: fresh(i)}, Stdin: strings.NewReader("")})
		took := time.Since(t0)
		if err != nil || (res.Status != sandbox.StatusOK && res.Status != sandbox.StatusFailed) {
			b.Fatalf("the 200-line tool: %v %+v", err, res)
		}
		return took, res.Pool == pool.Hit
	}
	var withGate, withoutGate []time.Duration
	for i := range runs {
		if d, ok := hit(on, i); ok {
			withGate = append(withGate, d)
		}
		if d, ok := hit(off, i); ok {
			withoutGate = append(withoutGate, d)
		}
	}
	if len(withGate) == 0 || len(withoutGate) == 0 {
		b.Fatal("no pool hits for the gate's rows")
	}
	slices.Sort(scan)
	slices.Sort(withGate)
	slices.Sort(withoutGate)
	share := withGate[len(withGate)/2] - withoutGate[len(withoutGate)/2]
	return []poolRow{
		{what: "gate: scan of a 200-line tool not seen before", target: "< 2 ms", lat: scan},
		{what: "pool hit, 200-line tool, Runner, gate off", target: "", lat: withoutGate},
		{what: "pool hit, 200-line tool, Runner, gate on", target: "gate's share < 2 ms", lat: withGate,
			note: fmt.Sprintf("(share: %+.1f ms of p50)", ms(share))},
	}
}
