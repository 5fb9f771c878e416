// Package deploy holds the tests of the production packaging: the compose
// stack (docker-compose.temporal.yml, loaded with the compose-spec loader)
// and the image (Dockerfile, built against the local Docker engine). The
// files it checks live at the repository root and under deploy/: rootfs/
// (passwd and group of the image) and postgres-init/ (roles and databases).
package deploy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/windflow/monitor/worker"
)

const (
	composeFile = "docker-compose.temporal.yml"
	// devPassword is the one secret literal the compose file may hold: the
	// documented default of every password variable, for a trial run.
	devPassword = "windflow"

	healthy   = types.ServiceConditionHealthy
	completed = types.ServiceConditionCompletedSuccessfully
)

// The services of the stack (a plain `up`); windflowServices run the
// Windflow image; oneShots run once and exit. The agent example is behind
// the profile "agent".
var (
	allServices      = []string{"postgresql", "temporal-schema", "temporal", "temporal-setup", "temporal-ui", "windflow-migrate", "api", "worker"}
	windflowServices = []string{"windflow-migrate", "api", "worker"}
	oneShots         = []string{"temporal-schema", "temporal-setup", "windflow-migrate"}
)

// secretName matches environment variables that hold a secret.
var secretName = regexp.MustCompile(`(?i)(PASSWORD|PWD|SECRET|TOKEN|_KEY$)`)

// repoRoot is the repository root: the tests run in deploy/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

// loadCompose loads the compose file with the compose-spec loader, the way
// `docker compose` does, with env as the only variables (so that everything
// not in env takes its default from the file).
func loadCompose(t *testing.T, env map[string]string, profiles ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	if _, ok := env["WINDFLOW_API_TOKEN"]; !ok {
		// The one variable without a default: the file refuses to load
		// without it (checked in TestComposeFile).
		env = maps.Clone(env)
		if env == nil {
			env = map[string]string{}
		}
		env["WINDFLOW_API_TOKEN"] = "test-token-from-the-environment"
	}
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, composeFile)}},
		Environment: types.Mapping(env),
	}
	p, err := loader.LoadWithContext(t.Context(), details, loader.WithProfiles(profiles))
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

// env returns the value of an environment variable of a service, "" if unset.
func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

func TestComposeFile(t *testing.T) {
	p := loadCompose(t, nil)

	t.Run("api token required", func(t *testing.T) {
		root := repoRoot(t)
		_, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
			WorkingDir:  root,
			ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, composeFile)}},
			Environment: types.Mapping{},
		})
		if err == nil || !strings.Contains(err.Error(), "WINDFLOW_API_TOKEN") {
			t.Fatalf("loading without WINDFLOW_API_TOKEN: %v, want a refusal naming it", err)
		}
		if got := env(service(t, p, "api"), "WINDFLOW_API_TOKEN"); got != "test-token-from-the-environment" {
			t.Fatalf("api WINDFLOW_API_TOKEN = %q, want the value from the environment", got)
		}
	})

	t.Run("services", func(t *testing.T) {
		got := p.ServiceNames()
		slices.Sort(got)
		want := slices.Clone(allServices)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("services = %v, want %v", got, want)
		}
		for _, name := range allServices {
			if s := service(t, p, name); len(s.Profiles) > 0 {
				t.Errorf("%s is behind profiles %v: a plain `up` would not start it", name, s.Profiles)
			}
		}
	})

	t.Run("dependencies", func(t *testing.T) {
		afterSpine := map[string]string{"postgresql": healthy, "windflow-migrate": completed, "temporal": healthy, "temporal-setup": completed}
		want := map[string]map[string]string{
			"postgresql":       nil,
			"temporal-schema":  {"postgresql": healthy},
			"temporal":         {"temporal-schema": completed},
			"temporal-setup":   {"temporal": healthy},
			"temporal-ui":      {"temporal": healthy},
			"windflow-migrate": {"postgresql": healthy},
			"api":              afterSpine,
			"worker":           afterSpine,
		}
		for name, deps := range want {
			s := service(t, p, name)
			got := map[string]string{}
			for dep, d := range s.DependsOn {
				got[dep] = d.Condition
				if !d.Required {
					t.Errorf("%s: dependency on %s is not required", name, dep)
				}
			}
			if len(got) != len(deps) {
				t.Errorf("%s depends on %v, want %v", name, got, deps)
			}
			for dep, cond := range deps {
				if got[dep] != cond {
					t.Errorf("%s: depends_on %s condition %q, want %q", name, dep, got[dep], cond)
				}
			}
		}
		// What a condition waits for must exist: a healthcheck behind
		// service_healthy, a job that ends (restart "no") behind
		// service_completed_successfully.
		for _, s := range p.Services {
			for dep, d := range s.DependsOn {
				target := service(t, p, dep)
				switch d.Condition {
				case healthy:
					if !hasHealthcheck(target) {
						t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", s.Name, dep, dep)
					}
				case completed:
					if target.Restart != types.RestartPolicyNo {
						t.Errorf("%s waits for %s to complete, but %s has restart %q", s.Name, dep, dep, target.Restart)
					}
				}
			}
		}
	})

	t.Run("healthchecks and restarts", func(t *testing.T) {
		for _, name := range allServices {
			s := service(t, p, name)
			if slices.Contains(oneShots, name) {
				if s.Restart != types.RestartPolicyNo {
					t.Errorf("%s restart = %q, want \"no\" (a one-shot job)", name, s.Restart)
				}
				continue
			}
			// A long-running service restarts on its own and either reports its
			// health or starts only once what it needs is there.
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("%s restart = %q, want %q", name, s.Restart, types.RestartPolicyUnlessStopped)
			}
			if !hasHealthcheck(s) && len(s.DependsOn) == 0 {
				t.Errorf("%s has neither a healthcheck nor depends_on conditions", name)
			}
			for dep, d := range s.DependsOn {
				if d.Condition == types.ServiceConditionStarted {
					t.Errorf("%s only waits for %s to start, not to be ready", name, dep)
				}
			}
		}
		pg := strings.Join(service(t, p, "postgresql").HealthCheck.Test, " ")
		// Over TCP, so that the image's temporary init server (Unix socket
		// only) does not count as ready before the init scripts have run.
		if !strings.Contains(pg, "pg_isready") || !strings.Contains(pg, "-h 127.0.0.1") {
			t.Errorf("postgresql healthcheck %q: want pg_isready over TCP (-h 127.0.0.1)", pg)
		}
		// The api image has no shell: the binary probes its own /healthz.
		if api := strings.Join(service(t, p, "api").HealthCheck.Test, " "); api != "CMD /windflow healthcheck" {
			t.Errorf("api healthcheck %q: want CMD /windflow healthcheck", api)
		}
		if tp := strings.Join(service(t, p, "temporal").HealthCheck.Test, " "); !strings.Contains(tp, "7233") {
			t.Errorf("temporal healthcheck %q does not probe the frontend port 7233", tp)
		}
	})

	t.Run("worker is scalable", func(t *testing.T) {
		w := service(t, p, "worker")
		if w.ContainerName != "" {
			t.Errorf("worker has container_name %q: --scale worker=N would clash", w.ContainerName)
		}
		if len(w.Ports) != 0 {
			t.Errorf("worker publishes ports %v: --scale worker=N would clash", w.Ports)
		}
		if w.Scale != nil || (w.Deploy != nil && w.Deploy.Replicas != nil) {
			t.Errorf("worker fixes its replica count; leave it to --scale")
		}
		sock := "/var/run/docker.sock"
		i := slices.IndexFunc(w.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == sock })
		if i < 0 {
			t.Fatalf("worker does not mount %s: %+v", sock, w.Volumes)
		}
		if v := w.Volumes[i]; v.Type != types.VolumeTypeBind || v.Source != sock || !v.ReadOnly {
			t.Errorf("docker socket mount = %+v, want a read-only bind of %s", v, sock)
		}
		if len(w.GroupAdd) != 1 {
			t.Fatalf("worker group_add = %v, want the socket's group", w.GroupAdd)
		}
		if _, err := strconv.Atoi(w.GroupAdd[0]); err != nil {
			t.Errorf("worker group_add %q is not a numeric gid", w.GroupAdd[0])
		}
		p2 := loadCompose(t, map[string]string{"DOCKER_GID": "105"})
		if got := service(t, p2, "worker").GroupAdd; !slices.Equal(got, []string{"105"}) {
			t.Errorf("with DOCKER_GID=105, worker group_add = %v", got)
		}
		// Activities still running when a worker stops get worker.StopTimeout
		// to finish; Compose must not kill the container before that.
		if w.StopGracePeriod == nil || time.Duration(*w.StopGracePeriod) <= worker.StopTimeout {
			t.Errorf("worker stop_grace_period %v, want more than worker.StopTimeout (%v)", w.StopGracePeriod, worker.StopTimeout)
		}
	})

	t.Run("api", func(t *testing.T) {
		a := service(t, p, "api")
		if !slices.ContainsFunc(a.Ports, func(pc types.ServicePortConfig) bool {
			return pc.Target == 8080 && pc.Published == "8080" && pc.Protocol == "tcp"
		}) {
			t.Errorf("api ports %+v, want 8080:8080", a.Ports)
		}
		_, port, err := net.SplitHostPort(env(a, "WINDFLOW_HTTP_ADDR"))
		if err != nil || port != "8080" || !strings.HasPrefix(env(a, "WINDFLOW_HTTP_ADDR"), "0.0.0.0:") {
			t.Errorf("api WINDFLOW_HTTP_ADDR = %q, want 0.0.0.0:8080", env(a, "WINDFLOW_HTTP_ADDR"))
		}
		ui, err := url.Parse(env(a, "TEMPORAL_UI_URL"))
		if err != nil || ui.Scheme != "http" || ui.Port() != "8233" {
			t.Errorf("api TEMPORAL_UI_URL = %q, want the UI's published port 8233", env(a, "TEMPORAL_UI_URL"))
		}
		if !slices.ContainsFunc(service(t, p, "temporal-ui").Ports, func(pc types.ServicePortConfig) bool {
			return pc.Target == 8080 && pc.Published == "8233"
		}) {
			t.Errorf("temporal-ui ports %+v, want 8233:8080", service(t, p, "temporal-ui").Ports)
		}
		// Graceful HTTP shutdown takes up to 10 s (cmd/windflow shutdownTimeout).
		if a.StopGracePeriod == nil || time.Duration(*a.StopGracePeriod) <= 10*time.Second {
			t.Errorf("api stop_grace_period %v, want more than 10s", a.StopGracePeriod)
		}
	})

	// /metrics is not behind the API token: each windflow service serves it
	// on a listener of its own that no service publishes on the host.
	t.Run("metrics not published", func(t *testing.T) {
		published := map[uint32]string{}
		for _, s := range p.Services {
			for _, pc := range s.Ports {
				if pc.Published != "" {
					published[pc.Target] = s.Name
				}
			}
		}
		for _, name := range []string{"api", "worker"} {
			s := service(t, p, name)
			addr := env(s, "WINDFLOW_METRICS_ADDR")
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatalf("%s WINDFLOW_METRICS_ADDR = %q, want host:port (a listener apart from the API)", name, addr)
			}
			n, err := strconv.ParseUint(port, 10, 32)
			if err != nil {
				t.Fatalf("%s metrics port %q", name, port)
			}
			if by, ok := published[uint32(n)]; ok && by == name {
				t.Errorf("%s publishes its metrics port %d", name, n)
			}
			if _, httpPort, _ := net.SplitHostPort(env(s, "WINDFLOW_HTTP_ADDR")); httpPort == port {
				t.Errorf("%s serves /metrics on its API port %s", name, port)
			}
		}
		a := service(t, p, "api")
		if len(a.Ports) != 1 || a.Ports[0].Target != 8080 {
			t.Errorf("api ports %+v, want 8080 (the API) only", a.Ports)
		}
	})

	t.Run("windflow services", func(t *testing.T) {
		image := service(t, p, "api").Image
		if image != "windflow/monitor:dev" {
			t.Errorf("windflow image = %q, want windflow/monitor:dev by default", image)
		}
		var runsImage []string
		for _, s := range p.Services {
			if s.Image == image {
				runsImage = append(runsImage, s.Name)
			}
		}
		slices.Sort(runsImage)
		want := slices.Clone(windflowServices)
		slices.Sort(want)
		if !slices.Equal(runsImage, want) {
			t.Errorf("services running %s = %v, want %v", image, runsImage, want)
		}
		temporal := service(t, p, "temporal")
		builders := 0
		for _, name := range windflowServices {
			s := service(t, p, name)
			if want := []string{strings.TrimPrefix(name, "windflow-")}; !slices.Equal(s.Command, want) {
				t.Errorf("%s command = %v, want %v", name, s.Command, want)
			}
			if s.Build != nil {
				builders++
				if s.Build.Context != repoRoot(t) || s.Build.Dockerfile != "Dockerfile" {
					t.Errorf("%s builds %s/%s, want the repository's Dockerfile", name, s.Build.Context, s.Build.Dockerfile)
				}
				if v := s.Build.Args["VERSION"]; v == nil || *v == "" {
					t.Errorf("%s build has no VERSION build-arg", name)
				}
			}
			if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("%s: want read_only, cap_drop [ALL] and no-new-privileges (got %v, %v, %v)", name, s.ReadOnly, s.CapDrop, s.SecurityOpt)
			}
			if s.User != "" {
				t.Errorf("%s overrides the image's user with %q", name, s.User)
			}

			u, err := url.Parse(env(s, "DATABASE_URL"))
			if err != nil || u.Scheme != "postgres" || u.Host != "postgresql:5432" || u.Path != "/windflow" || u.User.Username() != "windflow" {
				t.Errorf("%s DATABASE_URL = %q, want postgres://windflow:…@postgresql:5432/windflow", name, env(s, "DATABASE_URL"))
			}
			if got := env(s, "TEMPORAL_ADDRESS"); got != "temporal:7233" {
				t.Errorf("%s TEMPORAL_ADDRESS = %q, want temporal:7233", name, got)
			}
			if got, want := env(s, "TEMPORAL_NAMESPACE"), env(service(t, p, "temporal-setup"), "TEMPORAL_NAMESPACE"); got == "" || got != want {
				t.Errorf("%s TEMPORAL_NAMESPACE = %q, but temporal-setup registers %q", name, got, want)
			}
			// Empty: the installation's own queue (envflow.InstallationTaskQueue).
			if got := env(s, "WINDFLOW_TASK_QUEUE"); got != "" {
				t.Errorf("%s WINDFLOW_TASK_QUEUE = %q, want empty (the installation's own queue)", name, got)
			}
		}
		if builders != 1 {
			t.Errorf("%d windflow services build the image, want exactly one (the others reuse it)", builders)
		}
		if !slices.ContainsFunc(temporal.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == 7233 }) {
			t.Errorf("temporal does not listen on 7233: %+v", temporal.Ports)
		}
	})

	t.Run("temporal persistence", func(t *testing.T) {
		tp := service(t, p, "temporal")
		for k, want := range map[string]string{
			"DB": "postgres12", "DB_PORT": "5432", "POSTGRES_SEEDS": "postgresql", "POSTGRES_USER": "temporal",
		} {
			if got := env(tp, k); got != want {
				t.Errorf("temporal %s = %q, want %q", k, got, want)
			}
		}
		if env(service(t, p, "temporal-ui"), "TEMPORAL_ADDRESS") != "temporal:7233" {
			t.Errorf("temporal-ui TEMPORAL_ADDRESS = %q", env(service(t, p, "temporal-ui"), "TEMPORAL_ADDRESS"))
		}
	})

	t.Run("postgres volume and init", func(t *testing.T) {
		pg := service(t, p, "postgresql")
		if _, ok := p.Volumes["pgdata"]; !ok {
			t.Errorf("named volume pgdata not declared: %v", p.Volumes)
		}
		var data, init *types.ServiceVolumeConfig
		for i, v := range pg.Volumes {
			switch v.Target {
			case "/var/lib/postgresql/data":
				data = &pg.Volumes[i]
			case "/docker-entrypoint-initdb.d":
				init = &pg.Volumes[i]
			}
		}
		if data == nil || data.Type != types.VolumeTypeVolume || data.Source != "pgdata" {
			t.Errorf("postgres data = %+v, want the named volume pgdata", data)
		}
		if init == nil || init.Type != types.VolumeTypeBind || !init.ReadOnly {
			t.Fatalf("postgres init scripts = %+v, want a read-only bind mount", init)
		}
		if want := filepath.Join(repoRoot(t), "deploy", "postgres-init"); init.Source != want {
			t.Errorf("init scripts mounted from %s, want %s", init.Source, want)
		}
		script := initScript(t, init.Source)
		for _, stmt := range []string{
			"CREATE ROLE temporal LOGIN CREATEDB",
			"CREATE ROLE windflow LOGIN",
			"CREATE DATABASE windflow OWNER windflow",
			"CREATE DATABASE temporal OWNER temporal",
			"CREATE DATABASE temporal_visibility OWNER temporal",
		} {
			if !strings.Contains(script, stmt) {
				t.Errorf("init script lacks %q", stmt)
			}
		}
		// Every variable the script reads is given to the container.
		for _, m := range regexp.MustCompile(`\$\{?([A-Z_]+)`).FindAllStringSubmatch(script, -1) {
			if v := m[1]; v != "POSTGRES_USER" && env(pg, v) == "" {
				t.Errorf("init script reads $%s, which postgresql's environment does not set", v)
			}
		}
		if env(pg, "POSTGRES_USER") == "" {
			t.Errorf("postgresql: POSTGRES_USER not set")
		}
	})

	t.Run("one network", func(t *testing.T) {
		if len(p.Networks) != 1 {
			t.Fatalf("networks = %v, want one", p.Networks)
		}
		for net := range p.Networks {
			for _, s := range p.Services {
				if _, ok := s.Networks[net]; !ok || len(s.Networks) != 1 {
					t.Errorf("%s networks = %v, want only %s", s.Name, s.Networks, net)
				}
			}
		}
	})

	t.Run("images pinned", func(t *testing.T) {
		all := loadCompose(t, nil, "*")
		if !slices.Contains(all.ServiceNames(), "agent") {
			t.Fatalf("with every profile, services = %v: the agent example is missing", all.ServiceNames())
		}
		for _, s := range all.Services {
			name, tag := splitImage(s.Image)
			if name == "" || tag == "" || tag == "latest" {
				t.Errorf("%s image %q is not pinned to a version", s.Name, s.Image)
			}
			if name == "temporalio/auto-setup" {
				t.Errorf("%s runs temporalio/auto-setup, which Temporal no longer publishes; use temporalio/server", s.Name)
			}
		}
	})

	t.Run("secrets", func(t *testing.T) {
		// With the defaults, every secret is the documented dev password
		// (the API token has no default: it comes from the environment).
		for where, v := range secrets(p) {
			if where == "api WINDFLOW_API_TOKEN" || (strings.HasSuffix(where, " WINDFLOW_SECRET_KEY") && v == "") {
				continue // from the environment only; no default but "none"
			}
			if v != devPassword {
				t.Errorf("%s = %q: the only secret literal allowed is the dev default %q", where, v, devPassword)
			}
		}
		// Overriding the three variables replaces every secret: none is
		// hard-coded, and each consumer gets the value its role was created with.
		wf, tp, pg := "wf-"+randomHex(), "tp-"+randomHex(), "pg-"+randomHex()
		over := loadCompose(t, map[string]string{
			"WINDFLOW_DB_PASSWORD": wf, "TEMPORAL_DB_PASSWORD": tp, "POSTGRES_PASSWORD": pg,
		})
		got := secrets(over)
		if len(got) == 0 {
			t.Fatal("no secrets found: the test lost track of the compose file")
		}
		for where, v := range got {
			if v == devPassword {
				t.Errorf("%s stays %q when the password variables are set: a hard-coded secret", where, v)
			}
		}
		want := map[string]string{
			"postgresql POSTGRES_PASSWORD":    pg,
			"postgresql TEMPORAL_DB_PASSWORD": tp,
			"postgresql WINDFLOW_DB_PASSWORD": wf,
			"temporal POSTGRES_PWD":           tp,
			"temporal-schema SQL_PASSWORD":    tp,
		}
		for _, name := range windflowServices {
			want[name+" DATABASE_URL password"] = wf
		}
		for where, v := range want {
			if got[where] != v {
				t.Errorf("%s = %q, want %q", where, got[where], v)
			}
		}
		// The secrets are in no command, healthcheck or label either.
		for _, s := range over.Services {
			var other bytes.Buffer
			for _, part := range [][]string{s.Command, s.Entrypoint, healthTest(s), s.GroupAdd} {
				other.WriteString(strings.Join(part, " "))
			}
			for k, v := range s.Labels {
				other.WriteString(k + "=" + v)
			}
			for _, secret := range []string{wf, tp, pg} {
				if strings.Contains(other.String(), secret) {
					t.Errorf("%s carries a password outside its environment", s.Name)
				}
			}
		}
	})
}

func hasHealthcheck(s types.ServiceConfig) bool {
	return s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0 && s.HealthCheck.Test[0] != "NONE"
}

func healthTest(s types.ServiceConfig) []string {
	if s.HealthCheck == nil {
		return nil
	}
	return s.HealthCheck.Test
}

// secrets returns every secret value of the project, keyed by "service
// VARIABLE" (and "service DATABASE_URL password" for URLs).
func secrets(p *types.Project) map[string]string {
	out := map[string]string{}
	for _, s := range p.Services {
		for k, v := range s.Environment {
			if v == nil {
				continue
			}
			if secretName.MatchString(k) {
				out[s.Name+" "+k] = *v
			}
			if u, err := url.Parse(*v); err == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok {
					out[s.Name+" "+k+" password"] = pw
				}
			}
		}
	}
	return out
}

// splitImage splits an image reference into name and tag (or digest).
func splitImage(ref string) (name, tag string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// initScript returns the concatenated init scripts of dir.
func initScript(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sh"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no init script in %s (%v)", dir, err)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
