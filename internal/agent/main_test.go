package agent_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/windflow/monitor/internal/agent"
)

func TestMain_CommandLine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // an accepted command line runs until ctx ends: at once
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want error // nil: runs (returns context.Canceled)
		out  string
	}{
		{"version", []string{"--version"}, nil, nil, "windflow agent 1.2.3\n"},
		{"token from env", []string{"--server", "https://w.example.com"}, map[string]string{"WINDFLOW_AGENT_TOKEN": "t"}, context.Canceled, ""},
		{"all from env", nil, map[string]string{"WINDFLOW_AGENT_TOKEN": "t", "WINDFLOW_AGENT_SERVER": "https://w.example.com", "WINDFLOW_AGENT_ENGINE": "tcp://10.0.0.1:2375"}, context.Canceled, ""},
		{"token flag", []string{"--server", "https://w.example.com", "--token", "t"}, nil, context.Canceled, ""},
		{"no token", []string{"--server", "https://w.example.com"}, nil, agent.ErrUsage, ""},
		{"no server", nil, map[string]string{"WINDFLOW_AGENT_TOKEN": "t"}, agent.ErrUsage, ""},
		{"unknown flag", []string{"--nope"}, nil, agent.ErrUsage, ""},
		{"extra argument", []string{"--server", "https://w.example.com", "--token", "t", "extra"}, nil, agent.ErrUsage, ""},
		{"bad level", []string{"--server", "https://w.example.com", "--token", "t", "--log-level", "loud"}, nil, agent.ErrUsage, ""},
		{"plain http", []string{"--server", "http://w.example.com", "--token", "t"}, nil, agent.ErrBadConfig, ""},
		{"plain http allowed", []string{"--server", "http://w.example.com", "--token", "t", "--allow-plain-http"}, nil, context.Canceled, ""},
		{"bad engine", []string{"--server", "https://w.example.com", "--token", "t", "--engine", "/var/run/docker.sock"}, nil, agent.ErrBadConfig, ""},
	} {
		var stdout, stderr bytes.Buffer
		err := agent.Main(ctx, agent.Command{
			Name: "windflow agent", Version: "1.2.3",
			Getenv: func(k string) string { return c.env[k] },
			Stdout: &stdout, Stderr: &stderr,
		}, c.args)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: Main = %v, want %v", c.name, err, c.want)
		}
		if stdout.String() != c.out {
			t.Errorf("%s: stdout %q, want %q", c.name, stdout.String(), c.out)
		}
	}
}

func TestExit(t *testing.T) {
	var stderr bytes.Buffer
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{context.Canceled, 0},
		{agent.ErrUsage, 2},
		{agent.ErrBadConfig, 2},
		{errors.New("boom"), 1},
	} {
		if got := agent.Exit(c.err, "windflow agent", &stderr); got != c.want {
			t.Errorf("Exit(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if !strings.Contains(stderr.String(), "windflow agent: boom") {
		t.Errorf("stderr %q lacks the error", stderr.String())
	}
}
