package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// The monitor's own faults: a store call that failed because PostgreSQL was
// unavailable says nothing about the engine. Activities return it as an
// application error of type workflows.ErrTypeMonitorUnavailable (retryable),
// which the workflow takes as an unknown check: no offline transition, no
// notification (see workflows/faults.go). Only errors of store calls are
// classified: an engine that refuses connections fails with the same
// network errors and is the engine's fault.

// storeMargin is the part of an attempt's time kept back from store calls,
// so that a store that does not answer fails the call (the monitor's fault)
// before the attempt itself times out (which would count against the engine).
const storeMargin = time.Second

// storeContext bounds a store call to the attempt's deadline less
// storeMargin, when that leaves the call at least storeMargin.
func storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) < 2*storeMargin {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-storeMargin))
}

// storeError wraps the error of the store call operation ("load
// environment", "store metrics", …; the label of the outage metric) on
// subject ("of <name>", an ID): a MonitorUnavailable application error when
// PostgreSQL was unavailable (and the attempt itself is still live), else
// the error with the operation and subject in front. It counts and logs
// outages.
func storeError(ctx context.Context, operation, subject string, err error) error {
	if ctx.Err() != nil || !store.IsUnavailable(err) {
		return fmt.Errorf("%s %s: %w", operation, subject, err)
	}
	telemetry.FromContext(ctx).StoreUnavailable(operation)
	logger(ctx).Warn("PostgreSQL unavailable: the monitor's fault, not the engine's",
		"Operation", operation, "Subject", subject, "Error", err)
	return temporal.NewApplicationErrorWithCause(
		fmt.Sprintf("monitor unavailable: %s %s: %v", operation, subject, err),
		workflows.ErrTypeMonitorUnavailable, err)
}

// isMonitorUnavailable reports whether err is storeError's MonitorUnavailable.
func isMonitorUnavailable(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeMonitorUnavailable
}
