package notify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEventMessage(t *testing.T) {
	code := 1
	tests := []struct {
		name      string
		kind      string
		e         Event
		want      []string // in title+message
		wantTitle []string
		not       []string
	}{
		{"died", KindContainerDiedUnexpectedly, die(0, 137), []string{"prod", "web", "0123456789ab", "nginx:1.27", "exit code 137 (SIGKILL)", "2023-11-14 22:13:20 UTC"},
			[]string{"prod", "web", "died unexpectedly"}, []string{"/web", testID}},
		{"died exit 1", KindContainerDiedUnexpectedly, Event{ContainerID: testID, Name: "/api", ExitCode: &code},
			[]string{"exit code 1", "api"}, []string{"exit code 1"}, []string{"/api", "SIG"}},
		{"oom", KindContainerOOM, ev(0, "oom"), []string{"out of memory", "0123456789ab"}, []string{"ran out of memory"}, []string{"/web"}},
		{"unhealthy", KindContainerUnhealthy, ev(0, "health_status: unhealthy"), []string{"health check"}, []string{"unhealthy"}, nil},
		{"healthy", KindContainerHealthy, ev(0, "health_status: healthy"), []string{"again"}, []string{"healthy again"}, nil},
		{"started", KindContainerStarted, ev(0, "start"), []string{"started"}, []string{"web started"}, nil},
		{"stopped", KindContainerStopped, ev(0, "stop"), []string{"was stopped"}, []string{"web stopped"}, nil},
		{"name from attribute", KindContainerOOM, Event{ContainerID: testID, Attributes: map[string]string{"name": "/db", "image": "postgres:17"}},
			[]string{"db", "postgres:17"}, []string{"prod: db"}, []string{"/db"}},
		{"no name: short id", KindContainerOOM, Event{ContainerID: testID}, []string{"0123456789ab", "image unknown"},
			[]string{"prod: 0123456789ab"}, []string{testID}},
		{"labels never shown", KindContainerOOM, ev(0, "oom", "com.example.password", "hunter2-secret"), []string{"web"}, nil, []string{"hunter2-secret"}},
		{"control characters", KindContainerStarted, Event{Name: "/we\nb", ContainerID: "abc"}, []string{"we b"}, []string{"we b"}, []string{"we\nb"}},
		{"unknown kind", "something", ev(0, "rename"), []string{"rename"}, []string{"rename"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			title, msg := EventMessage("prod", tt.kind, tt.e)
			all := title + "\n" + msg
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing %q in %q", w, all)
				}
			}
			for _, w := range tt.wantTitle {
				if !strings.Contains(title, w) {
					t.Errorf("title %q lacks %q", title, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(all, w) {
					t.Errorf("unexpected %q in %q", w, all)
				}
			}
			if strings.Contains(title, "\n") {
				t.Errorf("title has a newline: %q", title)
			}
		})
	}
}

func TestStatusMessage(t *testing.T) {
	long := strings.Repeat("é", 400)
	tests := []struct {
		name     string
		env      string
		online   bool
		errText  string
		want     []string
		not      []string
		maxRunes int // of the "Last error: " line, 0 = no check
	}{
		{"offline", "prod", false, "dial tcp 10.0.0.1:2376: connect: connection refused",
			[]string{"prod is offline", "connection refused"}, nil, 0},
		{"offline without error", "prod", false, "", []string{"prod is offline"}, []string{"Last error"}, 0},
		{"offline long error truncated", "prod", false, long, []string{"…"}, nil, 300},
		{"offline userinfo redacted", "prod", false, `error during connect: tcp://admin:s3cretpw@10.0.0.1:2376 refused`,
			[]string{"tcp://***@10.0.0.1:2376"}, []string{"s3cretpw", "admin"}, 0},
		{"online", "prod", true, "ignored", []string{"prod is back online", "reachable again"}, []string{"ignored"}, 0},
		{"no env name", "", true, "", []string{"(unnamed environment)"}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			title, msg := StatusMessage(tt.env, tt.online, tt.errText)
			all := title + "\n" + msg
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing %q in %q", w, all)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(all, w) {
					t.Errorf("unexpected %q in %q", w, all)
				}
			}
			if tt.maxRunes > 0 {
				_, errLine, _ := strings.Cut(msg, "Last error: ")
				if n := utf8.RuneCountInString(errLine); n > tt.maxRunes {
					t.Errorf("error text has %d runes, want ≤ %d", n, tt.maxRunes)
				}
			}
		})
	}
}

func TestTruncateRunes(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"ééé", 2, "é…"},
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		if got := truncateRunes(tt.in, tt.max); got != tt.want {
			t.Errorf("truncateRunes(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
