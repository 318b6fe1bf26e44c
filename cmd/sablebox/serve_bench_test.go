package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/server"
)

var serveRuns = flag.Int("serve-runs", 8, "runs per client at each concurrency in BenchmarkServe")

// BenchmarkServe loads a `sablebox serve` process from this one, over
// loopback TCP, on the Docker backend: `python3 -c pass` at 1, 4 and 16
// concurrent clients (runs/s, p50/p99 latency, the server's peak RSS),
// then a flood against a small queue, which must get 429s while every run
// taken returns its result. Bounded: serve-runs runs per client, and
// a minute per level. `make bench` runs it with BenchmarkCompareCLI.
func BenchmarkServe(b *testing.B) {
	requireDocker(b)
	secret := "sbx_bench"
	tokens := writeTokens(b, "bench", secret, ", rate: 100000, burst: 100000")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body, _ := json.Marshal(server.RunRequest{Command: []string{"python3", "-c", "pass"}, Wait: true})
	post := func(addr string) (int, *sandbox.Result, time.Duration, error) {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/runs", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secret)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, 0, err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		took := time.Since(t0)
		if resp.StatusCode != 200 {
			return resp.StatusCode, nil, took, nil
		}
		var res sandbox.Result
		return 200, &res, took, json.Unmarshal(data, &res)
	}

	var report strings.Builder
	fmt.Fprintf(&report, "\n%-44s %9s %9s %9s %10s   (sablebox serve on docker, %d runs per client)\n",
		"clients", "runs/s", "p50", "p99", "peak RSS", *serveRuns)
	for _, clients := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			serve := startServe(b, tokens, "--max-concurrent", "16", "--max-queued", "64")
			defer serve.stop()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var mu sync.Mutex
			var lat []time.Duration
			var wg sync.WaitGroup
			t0 := time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range *serveRuns {
						if ctx.Err() != nil {
							return
						}
						code, res, took, err := post(serve.addr)
						if err != nil || code != 200 || res.Status != sandbox.StatusOK {
							b.Errorf("run: %d %+v %v", code, res, err)
							return
						}
						mu.Lock()
						lat = append(lat, took)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(t0)
			rss := peakRSS(serve.cmd.Process.Pid)
			slices.Sort(lat)
			if len(lat) == 0 {
				b.Fatal("no run finished")
			}
			p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
			rate := float64(len(lat)) / elapsed.Seconds()
			fmt.Fprintf(&report, "%-44s %9.1f %7.0fms %7.0fms %8.0fMiB\n", fmt.Sprintf("%d concurrent", clients), rate, ms(p50), ms(p99), float64(rss)/(1<<20))
			b.ReportMetric(rate, "runs/s")
			b.ReportMetric(ms(p50), "p50-ms")
			b.ReportMetric(ms(p99), "p99-ms")
			b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
		})
	}
	b.Run("flood", func(b *testing.B) {
		serve := startServe(b, tokens, "--max-concurrent", "2", "--max-queued", "4")
		defer serve.stop()
		const flood = 48
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for range flood {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, res, _, err := post(serve.addr)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					codes[-1]++
				case code == 200 && res.Status != sandbox.StatusOK:
					codes[-2]++ // taken, but no ok result: lost
				default:
					codes[code]++
				}
			}()
		}
		wg.Wait()
		if codes[200]+codes[429] != flood || codes[429] == 0 {
			b.Errorf("a flood of %d: answers by status %v; want only results and 429s, some of each", flood, codes)
		}
		fmt.Fprintf(&report, "%-44s %d results, %d × 429, %d lost   (max-concurrent 2, max-queued 4)\n",
			fmt.Sprintf("flood of %d at once", flood), codes[200], codes[429], flood-codes[200]-codes[429])
	})
	fmt.Fprint(os.Stdout, report.String()+"\n")
}

// peakRSS is a process's peak resident set (VmHWM), in bytes.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
