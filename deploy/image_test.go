package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine/enginetest"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, COPY, ...
	args string
	line int
}

func (in instruction) String() string { return in.cmd + " " + in.args }

// parseDockerfile reads the instructions of a Dockerfile: comments and blank
// lines dropped, backslash continuations joined.
func parseDockerfile(t *testing.T, file string) []instruction {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("%s ends in a line continuation", file)
	}
	return out
}

// stages splits a Dockerfile into the global ARGs (before the first FROM)
// and its stages, each starting with its FROM.
func stages(t *testing.T, ins []instruction) (global []instruction, st [][]instruction) {
	t.Helper()
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			st = append(st, []instruction{in})
		case len(st) == 0 && in.cmd == "ARG":
			global = append(global, in)
		case len(st) == 0:
			t.Fatalf("line %d: %s before the first FROM", in.line, in.cmd)
		default:
			st[len(st)-1] = append(st[len(st)-1], in)
		}
	}
	if len(st) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return global, st
}

// TestDockerfile checks what the image test cannot build here: the build
// stage (golang:1.26 is not pullable without a registry).
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	global, st := stages(t, parseDockerfile(t, filepath.Join(root, "Dockerfile")))
	if len(st) != 2 {
		t.Fatalf("%d stages, want 2 (build, runtime)", len(st))
	}
	all := slices.Concat(global, st[0])
	text := func(ins []instruction) string {
		var b strings.Builder
		for _, in := range ins {
			b.WriteString(in.String() + "\n")
		}
		return b.String()
	}
	buildStage := text(all)
	for _, want := range []string{
		"golang:1.26",
		"AS build",
		"COPY go.mod go.sum ./",
		"CGO_ENABLED=0 go build -trimpath",
		`-ldflags "-s -w -X main.version=${VERSION}"`,
		"-o /out/windflow ./cmd/windflow",
		"-o /out/windflow-agent ./cmd/windflow-agent",
	} {
		if !strings.Contains(buildStage, want) {
			t.Errorf("build stage lacks %q:\n%s", want, buildStage)
		}
	}
	final := text(st[1])
	for _, want := range []string{"FROM scratch", "USER 65532", `ENTRYPOINT ["/windflow"]`, `CMD ["api"]`, "EXPOSE 8080"} {
		if !strings.Contains(final, want) {
			t.Errorf("final stage lacks %q:\n%s", want, final)
		}
	}
	// The passwd entry USER refers to, and nothing in the image runs as root.
	passwd, err := os.ReadFile(filepath.Join(root, "deploy", "rootfs", "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(passwd), ":x:65532:65532:") {
		t.Errorf("deploy/rootfs/etc/passwd has no user 65532:\n%s", passwd)
	}

	// The build context keeps what the build needs and drops local state.
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			if strings.HasPrefix(l, "!") {
				t.Fatalf(".dockerignore exception %q: this test's matcher does not handle them", l)
			}
			patterns = append(patterns, strings.TrimSuffix(l, "/"))
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/windflow/main.go", "internal/store/migrations/00001_init.sql", "deploy/rootfs/etc/passwd"} {
		if ignored(patterns, p) {
			t.Errorf(".dockerignore excludes %s, which the build needs", p)
		}
	}
	for _, p := range []string{".git/HEAD", ".data/stack.env", "bin/windflow", "api/api.test"} {
		if !ignored(patterns, p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
}

// ignored reports whether a path (or one of its parent directories) matches
// one of the .dockerignore patterns; "**/" matches any number of directories.
func ignored(patterns []string, p string) bool {
	for _, pat := range patterns {
		for dir := p; dir != "."; dir = path.Dir(dir) {
			if ok, _ := path.Match(pat, dir); ok {
				return true
			}
			if rest, ok := strings.CutPrefix(pat, "**/"); ok {
				if ok, _ := path.Match(rest, path.Base(dir)); ok {
					return true
				}
			}
		}
	}
	return false
}

// TestImageBuilds builds the Dockerfile's final stage against the local
// Docker engine and runs `windflow version` in it.
//
// The build stage's golang:1.26 cannot be pulled here, so the test builds
// the binary itself with the same command (CGO_ENABLED=0, -trimpath, the same
// -ldflags) and hands the engine the final stage exactly as the Dockerfile
// has it, with each `COPY --from=build SRC DST` turned into a COPY from the
// build context, where SRC holds what the build stage would have produced.
// Every other instruction (FROM scratch, USER, ENTRYPOINT, CMD, COPY of
// deploy/rootfs, ...) reaches the engine unchanged, so a change to the final
// stage is tested without keeping a second Dockerfile in step. The classic
// builder is used (Debian's dockerd 20.10 may have no BuildKit).
func TestImageBuilds(t *testing.T) {
	cli := enginetest.Client(t) // skips without an engine, fails with WINDFLOW_REQUIRE_STACK=1
	info, err := cli.Info(t.Context(), client.InfoOptions{})
	if err != nil {
		t.Fatalf("engine info: %v", err)
	}
	if info.Info.OSType != "linux" {
		t.Skipf("engine runs %s containers, the image is linux", info.Info.OSType)
	}
	goarch, ok := map[string]string{"x86_64": "amd64", "aarch64": "arm64"}[info.Info.Architecture]
	if !ok {
		goarch = runtime.GOARCH
	}

	root := repoRoot(t)
	dir := t.TempDir()
	version := "image-test-" + randomHex()
	bin := filepath.Join(dir, "windflow")
	// A cold build cache (-trimpath and CGO_ENABLED=0 have their own
	// entries) takes a minute or two; later runs take seconds.
	buildCtx, buildCancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer buildCancel()
	agentBin := filepath.Join(dir, "windflow-agent")
	for pkg, out := range map[string]string{"./cmd/windflow": bin, "./cmd/windflow-agent": agentBin} {
		goBuild := exec.CommandContext(buildCtx, "go", "build", "-trimpath",
			"-ldflags", "-s -w -X main.version="+version, "-o", out, pkg)
		goBuild.Dir = root
		goBuild.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		if out, err := goBuild.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}

	// The image part: build, inspect, two runs.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// What the build stage would leave at each path COPY --from=build reads.
	caBundle := "/etc/ssl/certs/ca-certificates.crt"
	fromBuild := map[string]string{"/out/windflow": bin, "/out/windflow-agent": agentBin, caBundle: caBundle}
	if _, err := os.Stat(caBundle); err != nil {
		placeholder := filepath.Join(dir, "ca-certificates.crt")
		if err := os.WriteFile(placeholder, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		fromBuild[caBundle] = placeholder
	}
	dockerfile, files := finalStageContext(t, root, fromBuild)
	t.Logf("final stage as built:\n%s", dockerfile)
	dockerCtx := tarContext(t, dockerfile, files)

	tag := "windflow-test/monitor:" + version
	built, err := cli.ImageBuild(ctx, dockerCtx, client.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		BuildArgs:   map[string]*string{"VERSION": &version},
		Remove:      true,
		ForceRemove: true,
		NoCache:     true,
		Version:     build.BuilderV1,
		Labels:      map[string]string{enginetest.LabelKey: "1"},
	})
	if err != nil {
		t.Fatalf("image build: %v", err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		if _, err := cli.ImageRemove(cctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("remove image %s: %v", tag, err)
		}
	})
	if log, err := readBuildOutput(built.Body); err != nil {
		t.Fatalf("image build: %v\n%s", err, log)
	}

	img, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatalf("inspect %s: %v", tag, err)
	}
	cfg := img.Config
	if cfg == nil {
		t.Fatalf("image %s has no config", tag)
	}
	if cfg.User != "65532:65532" {
		t.Errorf("image user = %q, want 65532:65532", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/windflow"}) || !slices.Equal(cfg.Cmd, []string{"api"}) {
		t.Errorf("entrypoint %q cmd %q, want [/windflow] [api]", cfg.Entrypoint, cfg.Cmd)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 8080/tcp", cfg.ExposedPorts)
	}
	if !slices.Contains(cfg.Env, "WINDFLOW_HTTP_ADDR=0.0.0.0:8080") {
		t.Errorf("env %v lacks WINDFLOW_HTTP_ADDR=0.0.0.0:8080", cfg.Env)
	}
	if got := cfg.Labels["org.opencontainers.image.version"]; got != version {
		t.Errorf("version label = %q, want %q", got, version)
	}
	const maxSize = 64 << 20
	if img.Size > maxSize {
		t.Errorf("image is %d MiB, want a small static image (< %d MiB)", img.Size>>20, maxSize>>20)
	}
	t.Logf("image %s: %.1f MiB", tag, float64(img.Size)/(1<<20))

	out, code := runImage(t, ctx, cli, tag, "version")
	if code != 0 {
		t.Fatalf("windflow version exited %d:\n%s", code, out)
	}
	if want := "windflow " + version + "\n"; out != want {
		t.Errorf("windflow version printed %q, want %q", out, want)
	}
	// The default user can run it too: a command the binary does not know
	// ends with its usage and exit status 2, not with a permission error.
	out, code = runImage(t, ctx, cli, tag, "no-such-command")
	if code != 2 || !strings.Contains(out, "usage: windflow") {
		t.Errorf("windflow no-such-command exited %d with %q, want 2 and the usage", code, out)
	}
}

// finalStageContext returns the Dockerfile's final stage (with the global
// ARGs) for a build from a context, and the context's files (context path to
// host path). `COPY --from=build SRC DST` becomes `COPY from-build/SRC DST`
// with fromBuild[SRC] as that file; a COPY from the context keeps its
// sources, taken from the repository.
func finalStageContext(t *testing.T, root string, fromBuild map[string]string) (string, map[string]string) {
	t.Helper()
	global, st := stages(t, parseDockerfile(t, filepath.Join(root, "Dockerfile")))
	final := st[len(st)-1]
	if from := strings.Fields(final[0].args); len(from) == 0 || from[0] != "scratch" {
		t.Fatalf("final stage is %q, want FROM scratch", final[0])
	}
	files := map[string]string{}
	var b strings.Builder
	for _, in := range slices.Concat(global, final) {
		switch in.cmd {
		case "RUN", "ADD", "ONBUILD":
			t.Fatalf("line %d: %s in the final stage (scratch has no shell; use COPY)", in.line, in.cmd)
		case "COPY":
			fields := strings.Fields(in.args)
			if strings.HasPrefix(in.args, "[") || len(fields) < 2 {
				t.Fatalf("line %d: COPY %s: only the shell form is handled", in.line, in.args)
			}
			var flags, srcs []string
			from := ""
			for _, f := range fields[:len(fields)-1] {
				switch {
				case strings.HasPrefix(f, "--from="):
					from = strings.TrimPrefix(f, "--from=")
				case strings.HasPrefix(f, "--"):
					flags = append(flags, f)
				default:
					srcs = append(srcs, f)
				}
			}
			for i, src := range srcs {
				switch from {
				case "":
					files[path.Clean(src)] = filepath.Join(root, filepath.FromSlash(src))
				case "build":
					host, ok := fromBuild[src]
					if !ok {
						t.Fatalf("line %d: COPY --from=build %s: the test does not know what the build stage puts there", in.line, src)
					}
					srcs[i] = "from-build" + src
					files[srcs[i]] = host
				default:
					t.Fatalf("line %d: COPY --from=%s: unknown stage", in.line, from)
				}
			}
			fmt.Fprintf(&b, "COPY %s\n", strings.Join(slices.Concat(flags, srcs, fields[len(fields)-1:]), " "))
		default:
			b.WriteString(in.String() + "\n")
		}
	}
	return b.String(), files
}

// tarContext builds a build context: the Dockerfile and files (context path
// to host path; directories are added with their contents).
func tarContext(t *testing.T, dockerfile string, files map[string]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, data []byte) {
		hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add("Dockerfile", 0o644, []byte(dockerfile))
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		err := filepath.WalkDir(files[name], func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(files[name], p)
			if err != nil {
				return err
			}
			ctxName := path.Join(name, filepath.ToSlash(rel))
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if d.IsDir() {
				return tw.WriteHeader(&tar.Header{Name: ctxName + "/", Mode: 0o755, ModTime: time.Unix(0, 0), Typeflag: tar.TypeDir})
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file", p)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			add(ctxName, int64(fi.Mode().Perm()), data)
			return nil
		})
		if err != nil {
			t.Fatalf("build context: %v", err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// readBuildOutput drains the engine's JSON build stream and returns its
// text, and the first error the stream reports.
func readBuildOutput(body io.ReadCloser) (string, error) {
	defer body.Close()
	var log strings.Builder
	dec := json.NewDecoder(bufio.NewReader(body))
	for {
		var msg jsonstream.Message
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return log.String(), nil
		} else if err != nil {
			return log.String(), fmt.Errorf("read build output: %w", err)
		}
		log.WriteString(msg.Stream)
		if msg.Error != nil {
			return log.String(), errors.New(msg.Error.Message)
		}
	}
}

// runImage runs the image with args (network none), waits for it to exit and
// returns its output (stdout and stderr) and exit code. The container is
// removed when the test ends.
func runImage(t *testing.T, ctx context.Context, cli *client.Client, image string, args ...string) (string, int64) {
	t.Helper()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:  image,
			Cmd:    args,
			Labels: map[string]string{enginetest.LabelKey: "1"},
		},
		HostConfig: &container.HostConfig{NetworkMode: "none", ReadonlyRootfs: true},
	})
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		if _, err := cli.ContainerRemove(cctx, created.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("remove container: %v", err)
		}
	})
	wait := cli.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start container: %v", err)
	}
	var code int64
	select {
	case res := <-wait.Result:
		if res.Error != nil {
			t.Fatalf("wait for container: %s", res.Error.Message)
		}
		code = res.StatusCode
	case err := <-wait.Error:
		t.Fatalf("wait for container: %v", err)
	}
	logs, err := cli.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("container logs: %v", err)
	}
	defer logs.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		t.Fatalf("read container logs: %v", err)
	}
	return out.String(), code
}
