package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/internal/temporaltest"
)

// setupScript returns the script a one-shot runs (its command, under the
// read-only bind of deploy/temporal at /setup) and its text.
func setupScript(t *testing.T, s types.ServiceConfig) (path, text string) {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy", "temporal")
	i := slices.IndexFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == "/setup" })
	if i < 0 {
		t.Fatalf("%s does not mount deploy/temporal at /setup: %+v", s.Name, s.Volumes)
	}
	if v := s.Volumes[i]; v.Type != types.VolumeTypeBind || v.Source != dir || !v.ReadOnly {
		t.Errorf("%s mounts %+v, want a read-only bind of %s", s.Name, v, dir)
	}
	if !slices.Equal(s.Entrypoint, []string{"/bin/sh"}) || len(s.Command) != 1 || !strings.HasPrefix(s.Command[0], "/setup/") {
		t.Fatalf("%s runs %v %v, want /bin/sh /setup/<script>", s.Name, s.Entrypoint, s.Command)
	}
	path = filepath.Join(dir, strings.TrimPrefix(s.Command[0], "/setup/"))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
		t.Errorf("%s: sh -n: %v\n%s", path, err, out)
	}
	// Every variable the script requires (${X:?...}) is given to it.
	for _, m := range regexp.MustCompile(`\$\{([A-Z_]+):\?`).FindAllStringSubmatch(string(data), -1) {
		if env(s, m[1]) == "" {
			t.Errorf("%s requires $%s, which %s's environment does not set", filepath.Base(path), m[1], s.Name)
		}
	}
	return path, string(data)
}

// TestTemporalOneShots: Temporal runs from temporalio/server; its schema and
// its namespace with Windflow's search attributes are set up by one-shots
// on temporalio/admin-tools of the same version.
func TestTemporalOneShots(t *testing.T) {
	p := loadCompose(t, nil)
	server, serverTag := splitImage(service(t, p, "temporal").Image)
	if server != "temporalio/server" {
		t.Errorf("temporal runs %s, want temporalio/server", server)
	}
	for _, name := range []string{"temporal-schema", "temporal-setup"} {
		image, tag := splitImage(service(t, p, name).Image)
		if image != "temporalio/admin-tools" || tag != serverTag {
			t.Errorf("%s runs %s:%s, want temporalio/admin-tools:%s (the server's version)", name, image, tag, serverTag)
		}
	}

	schema := service(t, p, "temporal-schema")
	_, text := setupScript(t, schema)
	for _, part := range []string{
		"--plugin postgres12", "setup-schema -v 0.0", "update-schema -d",
		"temporal:temporal", "temporal_visibility:visibility", "/etc/temporal/schema/postgresql/v12",
	} {
		if !strings.Contains(text, part) {
			t.Errorf("setup-schema.sh lacks %q", part)
		}
	}
	if got, want := env(schema, "POSTGRES_USER"), env(service(t, p, "temporal"), "POSTGRES_USER"); got != want {
		t.Errorf("temporal-schema connects as %q, the server as %q", got, want)
	}

	setup := service(t, p, "temporal-setup")
	_, text = setupScript(t, setup)
	for _, part := range []string{"cluster health", "SERVING", "namespace describe", "namespace create", "--retention"} {
		if !strings.Contains(text, part) {
			t.Errorf("setup-namespace.sh lacks %q", part)
		}
	}
	for name, typ := range envflow.SearchAttributes {
		want := "--name " + name + " --type " + strings.TrimPrefix(typ.String(), "IndexedValueType")
		if !strings.Contains(text, want) {
			t.Errorf("setup-namespace.sh does not register the search attribute (%q)", want)
		}
	}
	if got := env(setup, "TEMPORAL_ADDRESS"); got != "temporal:7233" {
		t.Errorf("temporal-setup TEMPORAL_ADDRESS = %q", got)
	}
}

// TestAgentExample: the agent example runs only under its profile, with
// the token from the environment, the engine's socket read-only and no
// published port.
func TestAgentExample(t *testing.T) {
	if slices.Contains(loadCompose(t, nil).ServiceNames(), "agent") {
		t.Fatal("the agent runs on a plain `up`; want it behind the profile agent")
	}
	p := loadCompose(t, map[string]string{"WINDFLOW_AGENT_TOKEN": "wfa_token-from-the-environment"}, "agent")
	a := service(t, p, "agent")
	if !slices.Equal(a.Profiles, []string{"agent"}) {
		t.Errorf("agent profiles %v, want [agent]", a.Profiles)
	}
	if a.Image != service(t, p, "api").Image {
		t.Errorf("agent image %q, want the windflow image %q", a.Image, service(t, p, "api").Image)
	}
	i := slices.Index(a.Command, "--server")
	if !slices.Equal(a.Entrypoint, []string{"/windflow-agent"}) || i < 0 || i+1 >= len(a.Command) || !strings.HasPrefix(a.Command[i+1], "https://") {
		t.Errorf("agent entrypoint %v, command %v: want /windflow-agent --server https://…", a.Entrypoint, a.Command)
	}
	if got := env(a, "WINDFLOW_AGENT_TOKEN"); got != "wfa_token-from-the-environment" {
		t.Errorf("agent WINDFLOW_AGENT_TOKEN = %q, want the value from the environment", got)
	}
	if strings.Contains(strings.Join(a.Command, " "), "wfa_token") {
		t.Error("the agent's token is on its command line")
	}
	sock := "/var/run/docker.sock"
	j := slices.IndexFunc(a.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == sock })
	if j < 0 || a.Volumes[j].Type != types.VolumeTypeBind || a.Volumes[j].Source != sock || !a.Volumes[j].ReadOnly {
		t.Errorf("agent volumes %+v, want %s bound read-only", a.Volumes, sock)
	}
	if len(a.Ports) != 0 || len(a.Expose) != 0 {
		t.Errorf("agent publishes %v / exposes %v: it listens on no port", a.Ports, a.Expose)
	}
	if !a.ReadOnly || !slices.Equal(a.CapDrop, []string{"ALL"}) || !slices.Contains(a.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("agent: want read_only, cap_drop [ALL] and no-new-privileges")
	}
	if a.Restart != types.RestartPolicyUnlessStopped {
		t.Errorf("agent restart %q", a.Restart)
	}
	for _, k := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_API_KEY", "WINDFLOW_SECRET_KEY"} {
		if _, ok := a.Environment[k]; ok {
			t.Errorf("agent has %s: it holds no database or Temporal credential", k)
		}
	}
}

// TestSetupNamespaceScript runs deploy/temporal/setup-namespace.sh with
// the temporal CLI against the test server (twice: it is idempotent) and
// checks that the search attributes are registered.
func TestSetupNamespaceScript(t *testing.T) {
	addr := temporaltest.Address(t)
	bin := temporaltest.Binary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	script := filepath.Join(repoRoot(t), "deploy", "temporal", "setup-namespace.sh")
	for range 2 {
		cmd := exec.CommandContext(ctx, "sh", script)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
			"TEMPORAL_ADDRESS="+addr, "TEMPORAL_NAMESPACE=default")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("setup-namespace.sh: %v\n%s", err, out)
		}
		t.Logf("%s", out)
	}
	out, err := exec.CommandContext(ctx, bin, "operator", "search-attribute", "list", "--address", addr, "--namespace", "default").CombinedOutput()
	if err != nil {
		t.Fatalf("search-attribute list: %v\n%s", err, out)
	}
	for name := range envflow.SearchAttributes {
		if !regexp.MustCompile(`(?m)^\s*` + name + `\s+Keyword`).Match(out) {
			t.Errorf("%s is not registered after the script:\n%s", name, out)
		}
	}
}
