package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// containerSeriesAnswer is the answer of the per-container series.
type containerSeriesAnswer struct {
	Selected    map[string]string
	From        time.Time
	StepSeconds float64
	Resolution  string
	Containers  []struct {
		ID, Name    string
		First, Last time.Time
	}
	Points []struct {
		Time          time.Time
		CPUPercent    float64
		CPUPercentMax float64
		MemoryUsed    int64
		NetRx         int64
		Samples       int
	}
}

// TestContainerSeriesRoute: a container by full ID, short ID and name; a
// renamed container (by ID: its whole history under both names) and a
// recreated one (by name: the history of every container of that name);
// the rollups for whole-minute steps and raw rows below; 404 and 400.
func TestContainerSeriesRoute(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	idA := strings.Repeat("a1", 32) // "web" for 3 minutes, then renamed "web-old"
	idB := strings.Repeat("b2", 32) // a new "web" from minute 3
	idC1 := "cccccccccccc" + strings.Repeat("1", 52)
	idC2 := "cccccccccccc" + strings.Repeat("2", 52)
	for i := range 36 { // 6 minutes of 10 s cycles
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		c := func(id, name string, cpu float64) store.ContainerMetric {
			return store.ContainerMetric{ContainerID: id, ContainerName: name, CPUPercent: cpu,
				MemoryUsed: int64(1000 + i), NetRx: int64(100 * i)}
		}
		containers := []store.ContainerMetric{c(idC1, "c1", 1), c(idC2, "c2", 2)}
		if i < 18 {
			containers = append(containers, c(idA, "web", 10+float64(i%2)))
		} else {
			containers = append(containers, c(idA, "web-old", 20), c(idB, "web", 50))
		}
		host := store.HostMetric{EnvironmentID: env.ID, CycleAt: at, CollectedAt: at}
		if _, err := b.store.InsertMetrics(b.ctx, host, containers); err != nil {
			t.Fatalf("InsertMetrics: %v", err)
		}
	}
	// Another environment's "web" is not this one's.
	if _, err := b.store.InsertMetrics(b.ctx, store.HostMetric{EnvironmentID: other.ID, CycleAt: t0, CollectedAt: t0},
		[]store.ContainerMetric{{ContainerID: idB, ContainerName: "web", CPUPercent: 99}}); err != nil {
		t.Fatalf("InsertMetrics other: %v", err)
	}

	base := "/api/v1/environments/" + env.ID.String() + "/containers/"
	get := func(ref, query string) containerSeriesAnswer {
		t.Helper()
		code, raw := ntCall(t, b, http.MethodGet, base+ref+"/metrics?"+query, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s?%s: %d %s", ref, query, code, raw)
		}
		var out containerSeriesAnswer
		ntDecode(t, raw, &out)
		return out
	}
	window := fmt.Sprintf("from=%d&to=%d", t0.Unix(), t0.Add(6*time.Minute).Unix())
	cpus := func(a containerSeriesAnswer) []float64 {
		var out []float64
		for _, p := range a.Points {
			out = append(out, p.CPUPercent)
		}
		return out
	}
	names := func(a containerSeriesAnswer) string {
		var out []string
		for _, c := range a.Containers {
			out = append(out, c.ID[:2]+":"+c.Name)
		}
		return strings.Join(out, ",")
	}

	// By full ID and by short ID: container A under both its names.
	for _, ref := range []string{idA, idA[:12], idA[:20]} {
		a := get(ref, window+"&step=1m")
		if a.Selected["by"] != "id" || a.Selected["id"] != idA || a.Resolution != "1m" || a.StepSeconds != 60 {
			t.Fatalf("%s: selected %v resolution %q step %v", ref, a.Selected, a.Resolution, a.StepSeconds)
		}
		if got, want := fmt.Sprint(cpus(a)), "[10.5 10.5 10.5 20 20 20]"; got != want {
			t.Fatalf("%s: cpu %s, want %s", ref, got, want)
		}
		if got := names(a); got != "a1:web,a1:web-old" {
			t.Fatalf("%s: containers %s", ref, got)
		}
		if a.Points[0].Samples != 6 || a.Points[5].NetRx != 3500 || a.Points[0].CPUPercentMax != 11 {
			t.Fatalf("%s: first/last point %+v %+v", ref, a.Points[0], a.Points[5])
		}
	}

	// By name: the recreated "web" continues the old one's history.
	web := get("web", window+"&step=1m")
	if web.Selected["by"] != "name" || web.Selected["name"] != "web" {
		t.Fatalf("web: selected %v", web.Selected)
	}
	if got, want := fmt.Sprint(cpus(web)), "[10.5 10.5 10.5 50 50 50]"; got != want {
		t.Fatalf("web: cpu %s, want %s", got, want)
	}
	if got := names(web); got != "a1:web,b2:web" {
		t.Fatalf("web: containers %s", got)
	}
	if got := names(get("web-old", window+"&step=2m")); got != "a1:web-old" {
		t.Fatalf("web-old: containers %s", got)
	}

	// Below a minute the raw rows are read; the averages agree.
	raw := get("web", window+"&step=20s")
	if raw.Resolution != "raw" || len(raw.Points) != 18 || raw.Points[0].CPUPercent != 10.5 || raw.Points[17].CPUPercent != 50 {
		t.Fatalf("web raw: %+v", raw)
	}
	// An hour step reads the hour tier and aligns from to the hour. A
	// rollup bucket carries its latest name: A's hour is "web-old"'s.
	hour := get("web", fmt.Sprintf("from=%d&to=%d&step=1h", t0.Add(90*time.Second).Unix(), t0.Add(time.Hour).Unix()))
	if hour.Resolution != "1h" || !hour.From.Equal(t0) || len(hour.Points) != 1 || hour.Points[0].Samples != 18 ||
		hour.Points[0].CPUPercent != 50 || names(hour) != "b2:web" {
		t.Fatalf("web 1h: %+v", hour)
	}
	if a := get(idA[:12], fmt.Sprintf("from=%d&to=%d&step=1h", t0.Unix(), t0.Add(time.Hour).Unix())); len(a.Points) != 1 ||
		a.Points[0].Samples != 36 || a.Points[0].CPUPercent != (18*10.5+18*20)/36.0 || names(a) != "a1:web-old" {
		t.Fatalf("A 1h: %+v", a)
	}
	// A container named like the route's literal segment still works.
	if code, raw := ntCall(t, b, http.MethodGet, base+"metrics/metrics", ""); code != http.StatusNotFound {
		t.Fatalf("GET containers/metrics/metrics: %d %s, want 404", code, raw)
	}

	bad := []struct {
		name, path string
		code       int
		errCode    string
	}{
		{"unknown container", base + "nosuch/metrics", 404, "not_found"},
		{"unknown ID", base + strings.Repeat("e", 64) + "/metrics", 404, "not_found"},
		{"other environment's container only", "/api/v1/environments/" + other.ID.String() + "/containers/c1/metrics", 404, "not_found"},
		{"unknown environment", "/api/v1/environments/" + uuid.NewString() + "/containers/web/metrics", 404, "not_found"},
		{"bad environment ID", "/api/v1/environments/nope/containers/web/metrics", 400, ""},
		{"ambiguous short ID", base + "cccccccccccc/metrics", 400, "invalid_container"},
		{"bad step", base + "web/metrics?step=0s", 400, "invalid_query"},
		{"step over 90 days", base + "web/metrics?step=91d", 400, "invalid_query"},
		{"from after to", base + "web/metrics?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z", 400, "invalid_query"},
		{"bad from", base + "web/metrics?from=yesterday", 400, "invalid_query"},
		{"range over 90 days", base + "web/metrics?from=0&to=10000000", 400, "invalid_query"},
		{"too long", base + strings.Repeat("x", 300) + "/metrics", 400, "invalid_container"},
	}
	for _, c := range bad {
		code, raw := ntCall(t, b, http.MethodGet, c.path, "")
		if code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, raw, c.code)
			continue
		}
		if errCode, _ := ntErrorCode(t, raw); errCode == "" || (c.errCode != "" && errCode != c.errCode) {
			t.Errorf("%s: error code %q (%s), want %q", c.name, errCode, raw, c.errCode)
		}
	}
	// A longer prefix of one of them resolves.
	if a := get(idC2[:13], window+"&step=1m"); a.Selected["id"] != idC2 {
		t.Fatalf("13-digit prefix selected %v", a.Selected)
	}
}
