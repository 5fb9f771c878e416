package enginetest_test

import (
	"context"
	"testing"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine/enginetest"
)

// TestDaemonRestart checks the private daemon helper itself: containers
// run on it, and it answers again after a restart.
func TestDaemonRestart(t *testing.T) {
	d := enginetest.StartDaemon(t)
	cli := d.Client(t)
	id := enginetest.RunContainer(t, cli, "wf-daemon", "sleep", "3600")
	d.Restart()
	cli2 := d.Client(t)
	res, err := cli2.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect after restart: %v", err)
	}
	if res.Container.ID != id {
		t.Fatalf("inspect returned %q", res.Container.ID)
	}
}
