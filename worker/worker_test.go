package worker

import (
	"context"
	"testing"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/windflow/monitor/internal/telemetry"
)

type ctxKey struct{}

func TestWithTelemetry(t *testing.T) {
	m, err := telemetry.New()
	if err != nil {
		t.Fatal(err)
	}
	var o sdkworker.Options
	WithTelemetry(m)(&o)
	if telemetry.FromContext(o.BackgroundActivityContext) != m {
		t.Fatal("activities would not find the telemetry on their context")
	}
	// A background context set before is kept as the parent.
	o = sdkworker.Options{BackgroundActivityContext: context.WithValue(context.Background(), ctxKey{}, "kept")}
	WithTelemetry(m)(&o)
	if telemetry.FromContext(o.BackgroundActivityContext) != m || o.BackgroundActivityContext.Value(ctxKey{}) != "kept" {
		t.Fatal("WithTelemetry dropped the existing background context")
	}
}
