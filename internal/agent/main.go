package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
)

// ErrUsage is wrapped by Main's errors about its command line (exit 2).
var ErrUsage = errors.New("bad command line")

// Command is how Main was started: the program's name and version, its
// environment and its output.
type Command struct {
	Name    string // in usage and errors, e.g. "windflow agent"
	Version string
	Getenv  func(string) string
	Stdout  io.Writer
	Stderr  io.Writer // usage, errors and the JSON log
}

// Main runs the agent command line args until ctx ends: the flags (and
// their environment variables) below, then Run. -h and --version print and
// return nil; a bad command line returns an error wrapping ErrUsage, a
// configuration Run refuses one wrapping ErrBadConfig. `windflow agent`
// and the windflow-agent binary both run it.
func Main(ctx context.Context, cmd Command, args []string) error {
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(cmd.Stderr)
	env := func(name, def string) string {
		if v := cmd.Getenv(name); v != "" {
			return v
		}
		return def
	}
	cfg := Config{Version: cmd.Version}
	fs.StringVar(&cfg.ServerURL, "server", env("WINDFLOW_AGENT_SERVER", ""), "the Windflow API's URL, https://host[:port] ($WINDFLOW_AGENT_SERVER)")
	fs.StringVar(&cfg.Token, "token", "", "enrolment token; prefer $WINDFLOW_AGENT_TOKEN, which ps does not show")
	fs.StringVar(&cfg.Engine, "engine", env("WINDFLOW_AGENT_ENGINE", DefaultEngine), "engine endpoint: unix:///path or tcp://host:port ($WINDFLOW_AGENT_ENGINE)")
	fs.BoolVar(&cfg.AllowPlainHTTP, "allow-plain-http", false, "allow an http:// server that is not on loopback (the token then travels in clear)")
	level := fs.String("log-level", env("WINDFLOW_LOG_LEVEL", "info"), "debug, info, warn or error ($WINDFLOW_LOG_LEVEL)")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if *version {
		_, err := fmt.Fprintln(cmd.Stdout, cmd.Name, cmd.Version)
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	if cfg.Token == "" {
		cfg.Token = cmd.Getenv("WINDFLOW_AGENT_TOKEN")
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("%w: log level must be debug, info, warn or error, got %q", ErrUsage, *level)
	}
	if cfg.ServerURL == "" || cfg.Token == "" {
		return fmt.Errorf("%w: --server and a token (--token or $WINDFLOW_AGENT_TOKEN) are required", ErrUsage)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(cmd.Stderr, &slog.HandlerOptions{Level: l}))
	return Run(ctx, cfg)
}

// Exit returns the exit status of Main's error err, after printing it to
// stderr: 0 for none or a cancelled context (a signal), 2 for a bad
// command line or configuration, 1 otherwise.
func Exit(err error, name string, stderr io.Writer) int {
	switch {
	case err == nil || errors.Is(err, context.Canceled):
		return 0
	case errors.Is(err, ErrUsage) || errors.Is(err, ErrBadConfig):
		fmt.Fprintf(stderr, "%s: %v (see %s -h)\n", name, err, name)
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}
