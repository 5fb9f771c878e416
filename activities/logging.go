package activities

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/telemetry"
)

// loggerKey carries the logger of work that goes on outside an activity's
// context: a detached event stream (see StreamEvents).
type loggerKey struct{}

// withLogger returns ctx carrying l for logger.
func withLogger(ctx context.Context, l log.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// logger is the logger of the activity ctx belongs to: the SDK's activity
// logger, or the one a detached stream carries.
func logger(ctx context.Context) log.Logger {
	if activity.IsActivity(ctx) {
		return activity.GetLogger(ctx)
	}
	if l, ok := ctx.Value(loggerKey{}).(log.Logger); ok {
		return l
	}
	return log.NewStructuredLogger(slog.Default())
}

// envLogger is logger with env's fields (a detached stream's logger has
// them already).
func envLogger(ctx context.Context, env store.Environment) log.Logger {
	if activity.IsActivity(ctx) {
		return telemetry.ActivityLogger(ctx, env.ID.String(), env.Name)
	}
	return logger(ctx)
}
