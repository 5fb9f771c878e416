// Package enginetest gives tests a real Docker engine to work against: a
// client, a tiny busybox image imported without any registry, and
// containers that are removed when the test ends.
//
// The engine is the one DOCKER_HOST names, else unix:///var/run/docker.sock.
// When it does not answer, tests are skipped, unless WINDFLOW_REQUIRE_STACK=1
// (CI), where they fail.
package enginetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
)

// ImageRef is the tag of the test image that BusyboxImage imports.
const ImageRef = "windflow-test/busybox:latest"

// LabelKey is the label (value "1") put on every container RunContainer
// creates, so that leftovers can be found with a label filter.
const LabelKey = "windflow.test"

// DefaultEndpoint is the engine used when DOCKER_HOST is not set.
const DefaultEndpoint = "unix:///var/run/docker.sock"

// Endpoint returns the engine endpoint the helpers use: DOCKER_HOST, else
// DefaultEndpoint.
func Endpoint() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return DefaultEndpoint
}

// Client connects to the test engine (see Endpoint) and closes the client
// when the test ends. An engine that does not answer skips the test, or
// fails it when WINDFLOW_REQUIRE_STACK=1.
func Client(t testing.TB) *client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that needs a Docker engine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := engine.Connect(ctx, Endpoint())
	if err != nil {
		if os.Getenv("WINDFLOW_REQUIRE_STACK") == "1" {
			t.Fatalf("docker engine required (WINDFLOW_REQUIRE_STACK=1): %v", err)
		}
		t.Skipf("no docker engine at %s: %v", Endpoint(), err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

var (
	imageMu sync.Mutex
	// imageReady records, per engine (DaemonHost), that the image is there.
	imageReady = map[string]bool{}
)

// BusyboxImage returns ImageRef, importing it first if the engine lacks it.
// The image is a tarball built in memory from the host's static busybox
// (Debian package busybox-static) with links for common applets, so no
// registry is needed. It is imported at most once per process and reused
// when it already exists.
func BusyboxImage(t testing.TB, cli *client.Client) string {
	t.Helper()
	imageMu.Lock()
	defer imageMu.Unlock()
	if imageReady[cli.DaemonHost()] {
		return ImageRef
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := cli.ImageInspect(ctx, ImageRef); err == nil {
		imageReady[cli.DaemonHost()] = true
		return ImageRef
	} else if !cerrdefs.IsNotFound(err) {
		t.Fatalf("inspect %s: %v", ImageRef, err)
	}
	rootfs, err := busyboxRootfs()
	if err != nil {
		t.Fatalf("build busybox rootfs: %v", err)
	}
	if err := importImage(ctx, cli, rootfs); err != nil {
		t.Fatalf("import %s: %v", ImageRef, err)
	}
	imageReady[cli.DaemonHost()] = true
	return ImageRef
}

// RunContainer creates and starts a container of the busybox image running
// cmd, with network mode "none" and the label LabelKey=1, and force-removes
// it when the test ends. The container is named name plus a random suffix
// (name-1a2b3c4d), so reruns and packages testing in parallel never clash;
// an empty name lets the engine choose. It returns the container ID.
func RunContainer(t testing.TB, cli *client.Client, name string, cmd ...string) string {
	t.Helper()
	img := BusyboxImage(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if name != "" {
		name += "-" + randomSuffix()
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:  img,
			Cmd:    cmd,
			Labels: map[string]string{LabelKey: "1"},
		},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		t.Fatalf("create container %q: %v", name, err)
	}
	t.Cleanup(func() { removeContainer(t, cli, created.ID) })
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start container %q: %v", name, err)
	}
	return created.ID
}

// removeContainer force-removes id; a container already gone is fine.
func removeContainer(t testing.TB, cli *client.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		t.Errorf("remove container %s: %v", id, err)
	}
}

// randomSuffix returns 8 random hex digits.
func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
