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
	var o options
	WithTelemetry(m)(&o)
	for _, wo := range []sdkworker.Options{o.main, o.streams} {
		if telemetry.FromContext(wo.BackgroundActivityContext) != m {
			t.Fatal("activities would not find the telemetry on their context")
		}
	}
	// A background context set before is kept as the parent.
	o = options{main: sdkworker.Options{BackgroundActivityContext: context.WithValue(context.Background(), ctxKey{}, "kept")}}
	WithTelemetry(m)(&o)
	if telemetry.FromContext(o.main.BackgroundActivityContext) != m || o.main.BackgroundActivityContext.Value(ctxKey{}) != "kept" {
		t.Fatal("WithTelemetry dropped the existing background context")
	}
}
