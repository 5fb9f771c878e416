package notify

import (
	"testing"
	"time"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// ev builds an event of testID at second sec (from an arbitrary base).
func ev(sec float64, action string, attrs ...string) Event {
	e := Event{
		TimeNano:    int64(1_700_000_000*time.Second) + int64(sec*float64(time.Second)),
		ContainerID: testID, Name: "/web", Image: "nginx:1.27",
		Action: action, Attributes: map[string]string{"name": "web", "image": "nginx:1.27"},
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attributes[attrs[i]] = attrs[i+1]
	}
	return e
}

// die builds a die event with exit code code (in ExitCode and attribute).
func die(sec float64, code int, attrs ...string) Event {
	e := ev(sec, "die", attrs...)
	e.ExitCode = &code
	return e
}

// other returns e as an event of another container.
func other(e Event) Event {
	e.ContainerID = "fedcba9876543210"
	return e
}

func TestClassify(t *testing.T) {
	dieAttrOnly := ev(10, "die", "exitCode", "1")
	dieNoCode := ev(10, "die")
	tests := []struct {
		name   string
		e      Event
		recent []Event
		want   string // "" = not notified
	}{
		{"oom", ev(0, "oom"), nil, KindContainerOOM},
		{"oom then die 137: die not notified", die(0.1, 137), []Event{ev(0, "oom")}, ""},
		{"unhealthy", ev(0, "health_status: unhealthy"), nil, KindContainerUnhealthy},
		{"healthy after unhealthy", ev(60, "health_status: healthy"),
			[]Event{ev(0, "start"), ev(10, "health_status: healthy"), ev(30, "health_status: unhealthy")}, KindContainerHealthy},
		{"healthy long after unhealthy (no window)", ev(3600, "health_status: healthy"),
			[]Event{ev(0, "health_status: unhealthy")}, KindContainerHealthy},
		{"healthy after start", ev(10, "health_status: healthy"), []Event{ev(0, "create"), ev(1, "start")}, ""},
		{"healthy with no history", ev(10, "health_status: healthy"), nil, ""},
		{"healthy after unhealthy then healthy", ev(90, "health_status: healthy"),
			[]Event{ev(30, "health_status: unhealthy"), ev(60, "health_status: healthy")}, ""},
		{"healthy: other container's unhealthy ignored", ev(60, "health_status: healthy"),
			[]Event{other(ev(30, "health_status: unhealthy"))}, ""},
		{"healthy: later unhealthy ignored", ev(60, "health_status: healthy"),
			[]Event{ev(0, "health_status: healthy"), ev(70, "health_status: unhealthy")}, ""},
		{"healthy: recent out of order", ev(60, "health_status: healthy"),
			[]Event{ev(30, "health_status: unhealthy"), ev(10, "health_status: healthy")}, KindContainerHealthy},
		{"health starting", ev(0, "health_status: starting"), nil, ""},
		{"crash exit 1, no kill", die(10, 1), []Event{ev(0, "start")}, KindContainerDiedUnexpectedly},
		{"exit code from attribute", dieAttrOnly, nil, KindContainerDiedUnexpectedly},
		{"exit code unknown", dieNoCode, nil, ""},
		{"exit code 0", die(10, 0), nil, ""},
		{"exit code 0 in attribute", ev(10, "die", "exitCode", "0"), nil, ""},
		{"docker stop: kill kill die 137", die(10.2, 137),
			[]Event{ev(0, "kill", "signal", "15"), ev(10.1, "kill", "signal", "9")}, ""},
		{"docker stop: die 143 after SIGTERM", die(0.5, 143), []Event{ev(0, "kill", "signal", "15")}, ""},
		{"docker stop: the stop event itself", ev(10.3, "stop"),
			[]Event{ev(0, "kill"), ev(10.1, "kill"), die(10.2, 137)}, KindContainerStopped},
		{"docker kill: die 137", die(0.01, 137), []Event{ev(0, "kill", "signal", "9")}, ""},
		{"restart API: kill then die", die(1, 137), []Event{ev(0, "kill"), ev(0.5, "restart")}, ""},
		{"stop before die", die(1, 1), []Event{ev(0, "stop")}, ""},
		{"update before die", die(5, 1), []Event{ev(0, "update")}, ""},
		{"pause before die", die(5, 1), []Event{ev(0, "pause")}, ""},
		{"kill exactly 30 s before", die(30, 137), []Event{ev(0, "kill")}, ""},
		{"kill 31 s before", die(31, 137), []Event{ev(0, "kill")}, KindContainerDiedUnexpectedly},
		{"oom 31 s before", die(31, 137), []Event{ev(0, "oom")}, KindContainerDiedUnexpectedly},
		{"kill of another container", die(1, 137), []Event{other(ev(0, "kill"))}, KindContainerDiedUnexpectedly},
		{"kill after the die", die(1, 137), []Event{ev(2, "kill")}, KindContainerDiedUnexpectedly},
		{"policy restart: die", die(10, 2), []Event{ev(0, "start")}, KindContainerDiedUnexpectedly},
		{"policy restart: second die after die+start", die(20, 2),
			[]Event{die(10, 2), ev(10.2, "start")}, KindContainerDiedUnexpectedly},
		{"policy restart: start", ev(10.2, "start"), []Event{die(10, 2)}, KindContainerStarted},
		{"start", ev(0, "start"), nil, KindContainerStarted},
		{"stop", ev(0, "stop"), nil, KindContainerStopped},
		{"create", ev(0, "create"), nil, ""},
		{"kill", ev(0, "kill"), nil, ""},
		{"restart", ev(0, "restart"), nil, ""},
		{"destroy", ev(0, "destroy"), nil, ""},
		{"exec_die", ev(0, "exec_die", "exitCode", "1"), nil, ""},
		{"empty action", ev(0, ""), nil, ""},
		{"silenced false", ev(0, "oom", SilenceLabel, "false"), nil, ""},
		{"silenced 0", die(0, 1, SilenceLabel, "0"), nil, ""},
		{"silenced no", ev(0, "health_status: unhealthy", SilenceLabel, "no"), nil, ""},
		{"silenced FALSE with spaces", ev(0, "start", SilenceLabel, " FALSE "), nil, ""},
		{"silence label true", ev(0, "oom", SilenceLabel, "true"), nil, KindContainerOOM},
		{"silence label empty", ev(0, "oom", SilenceLabel, ""), nil, KindContainerOOM},
		{"silence label other", ev(0, "oom", SilenceLabel, "off"), nil, KindContainerOOM},
		{"nil attributes", Event{Action: "oom"}, nil, KindContainerOOM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Classify(tt.e, tt.recent)
			if ok != (tt.want != "") || got != tt.want {
				t.Fatalf("Classify = (%q, %v), want %q", got, ok, tt.want)
			}
		})
	}
}

func TestClassifyIgnoresItselfInRecent(t *testing.T) {
	healthy := ev(60, "health_status: healthy")
	recent := []Event{ev(30, "health_status: unhealthy"), healthy}
	if kind, ok := Classify(healthy, recent); !ok || kind != KindContainerHealthy {
		t.Fatalf("Classify with itself in recent = (%q, %v)", kind, ok)
	}
}
