package enginetest

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// CreateContainer creates, without starting it, a container of the busybox
// image running cmd, set up like RunContainer's (network mode "none", label
// LabelKey=1, name plus a random suffix, force-removed when the test ends).
// edit, when not nil, may change the configuration first (a health check,
// more labels, a memory limit…). It returns the container ID.
func CreateContainer(t testing.TB, cli *client.Client, name string, edit func(*container.Config, *container.HostConfig), cmd ...string) string {
	t.Helper()
	img := BusyboxImage(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if name != "" {
		name += "-" + randomSuffix()
	}
	cfg := &container.Config{
		Image:  img,
		Cmd:    cmd,
		Labels: map[string]string{LabelKey: "1"},
	}
	host := &container.HostConfig{NetworkMode: "none"}
	if edit != nil {
		edit(cfg, host)
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: host})
	if err != nil {
		t.Fatalf("create container %q: %v", name, err)
	}
	t.Cleanup(func() { removeContainer(t, cli, created.ID) })
	return created.ID
}
