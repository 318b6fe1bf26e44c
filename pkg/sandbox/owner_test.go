package sandbox

import (
	"os/exec"
	"testing"
	"time"
)

func TestOwnerOrphaned(t *testing.T) {
	me := CurrentOwner()
	if me.Start == 0 || me.BootID == "" || me.PIDNS == "" {
		t.Fatalf("CurrentOwner() = %+v: want start time, boot id and pid namespace", me)
	}
	now := time.Now()

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	gone := me
	gone.PID = dead.Process.Pid

	recycled := me
	recycled.Start++

	// A sablebox in a container: the same boot, pids of its own.
	inContainer := gone
	inContainer.PIDNS = "pid:[1]"
	olderLabels := gone.Labels("r", "v", now.Add(time.Minute))
	delete(olderLabels, LabelOwnerPIDNS)

	tests := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"live owner", me.Labels("r", "v", now.Add(time.Minute)), false},
		{"dead owner", gone.Labels("r", "v", now.Add(time.Minute)), true},
		{"recycled pid", recycled.Labels("r", "v", now.Add(time.Minute)), true},
		{"deadline long past", me.Labels("r", "v", now.Add(-time.Hour)), true},
		{"deadline within grace", me.Labels("r", "v", now.Add(-time.Second)), false},
		{"other host, live deadline", Owner{PID: 1, BootID: "elsewhere"}.Labels("r", "v", now.Add(time.Minute)), false},
		{"garbage", map[string]string{LabelDeadline: "soon"}, true},
		{"other pid namespace, live deadline", inContainer.Labels("r", "v", now.Add(time.Minute)), false},
		{"other pid namespace, deadline long past", inContainer.Labels("r", "v", now.Add(-time.Hour)), true},
		{"no pid namespace label, dead owner", olderLabels, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := me.Orphaned(tt.labels, now)
			if got != tt.want {
				t.Fatalf("Orphaned = %v (%s), want %v; labels %v", got, why, tt.want, tt.labels)
			}
		})
	}
	if id := NewRunID(); len(id) != 16 {
		t.Fatalf("NewRunID() = %q", id)
	}
}
