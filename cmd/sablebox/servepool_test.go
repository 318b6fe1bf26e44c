package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/server"
)

// The service keeps a warm pool by default: its runs hit it, and a
// SIGKILL of the service leaves its warm containers only until the next
// sablebox on the host sweeps.
func TestServePoolAndAKilledService(t *testing.T) {
	c := requireDocker(t)
	isolate(t)
	secret := "sbx_pool"
	serve := startServe(t, writeTokens(t, "pooled", secret, ", rate: 1000, burst: 1000"), "--pool-min", "1", "--pool-max", "1")
	list := func() []container.Summary {
		f := filters.NewArgs(filters.Arg("label", sandbox.LabelOwnerPID+"="+strconv.Itoa(serve.cmd.Process.Pid)))
		list, err := c.ContainerList(context.Background(), container.ListOptions{All: true, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	warm := func() int { return len(list()) }
	// Settled: the pool's one container waits, and none is being made or
	// removed (a create in flight at the kill ends after the next sweep).
	settled := func() bool {
		l := list()
		return len(l) == 1 && l[0].State == "running"
	}
	settledTwice := func() bool {
		if !settled() {
			return false
		}
		time.Sleep(300 * time.Millisecond)
		return settled()
	}
	body, _ := json.Marshal(server.RunRequest{Command: []string{"python3", "-c", "print('pooled')"}, Wait: true})
	var res sandbox.Result
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("POST", "http://"+serve.addr+"/v1/runs", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(data, &res); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, data)
		}
		if res.Pool == pool.Hit || time.Now().After(deadline) {
			break
		}
	}
	if res.Pool != pool.Hit || res.Stdout.String() != "pooled\n" {
		t.Fatalf("pool %q stdout %q: want a hit", res.Pool, res.Stdout.Data)
	}
	for deadline := time.Now().Add(time.Minute); !settledTwice(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no settled warm pool after a minute")
		}
	}
	if err := serve.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = serve.cmd.Wait()
	if n := warm(); n == 0 {
		t.Fatal("the killed service's warm container is already gone: the test shows nothing")
	}
	out, err := exec.Command(binary, "run", "--runtime", "docker", "--", "true").CombinedOutput()
	if err != nil {
		t.Fatalf("the next run: %v: %s", err, out)
	}
	if n := warm(); n != 0 {
		t.Errorf("the next sablebox left %d containers of the killed service", n)
	}
}
