package activities

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"syscall"
	"time"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// Capacity sources of a disk summary.
const (
	capacityConfigured = "configured"
	capacityStatfs     = "statfs"
)

// CheckDisk reads the engine's disk usage (/system/df, bounded by the
// environment's disk timeout because it walks every layer), works out the
// capacity it is compared with, and stores the sample keyed by (environment,
// CheckAt) so a retried attempt stores nothing twice.
//
// Totals are the engine's own per-kind totals: image layers counted once
// (shared layers are not double counted), containers' writable layers
// (SizeRw), volumes whose size is known, and the build cache. The capacity is
// the environment's configured size, else — for a local engine (unix://) —
// the size of the filesystem holding its DockerRootDir (statfs); overlay2
// reports no capacity of its own.
func (a *Activities) CheckDisk(ctx context.Context, in workflows.CheckDiskInput) (workflows.DiskSummary, error) {
	env, err := a.environment(ctx, in.EnvironmentID)
	if err != nil {
		return workflows.DiskSummary{}, err
	}
	cli, release, err := a.connect(ctx, env)
	if err != nil {
		return workflows.DiskSummary{}, err
	}
	defer release()

	timeout := env.Settings.DiskTimeout
	if timeout <= 0 {
		timeout = workflows.DefaultDiskTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	du, err := engine.DiskUsage(dctx, cli)
	cancel()
	if err != nil {
		if errors.Is(dctx.Err(), context.DeadlineExceeded) {
			return workflows.DiskSummary{}, fmt.Errorf("disk usage of %s: no complete answer within %s: %w", env.Name, timeout, engine.ErrTooSlow)
		}
		return workflows.DiskSummary{}, fmt.Errorf("disk usage of %s: %w", env.Name, engine.BoundError(err))
	}
	sum := workflows.DiskSummary{
		CheckedAt:       time.Now().UTC(),
		ImagesBytes:     max(du.Images, 0),
		ContainersBytes: max(du.Containers, 0),
		VolumesBytes:    max(du.Volumes, 0),
		BuildCacheBytes: max(du.BuildCache, 0),
	}
	sum.TotalBytes = sum.ImagesBytes + sum.ContainersBytes + sum.VolumesBytes + sum.BuildCacheBytes
	telemetry.FromContext(ctx).DiskUsage(env.Name, sum.TotalBytes)

	switch {
	case env.Settings.DiskCapacityBytes > 0:
		sum.CapacityBytes, sum.CapacitySource = env.Settings.DiskCapacityBytes, capacityConfigured
	case env.Settings.DiskCapacityBytes == 0 && strings.HasPrefix(env.Endpoint, "unix://"):
		info, err := engine.Info(ctx, cli)
		if err != nil {
			return workflows.DiskSummary{}, fmt.Errorf("info of %s: %w", env.Name, err)
		}
		if size, ok := filesystemSize(info.DockerRootDir); ok {
			sum.CapacityBytes, sum.CapacitySource = size, capacityStatfs
		}
	}
	if sum.CapacityBytes > 0 {
		sum.Percent = float64(sum.TotalBytes) / float64(sum.CapacityBytes) * 100
		if math.IsNaN(sum.Percent) || math.IsInf(sum.Percent, 0) {
			sum.Percent = 0
		}
	}

	if _, err := a.Store.InsertDiskSample(ctx, store.DiskSample{
		EnvironmentID:   env.ID,
		CheckAt:         in.CheckAt,
		CheckedAt:       sum.CheckedAt,
		ImagesBytes:     sum.ImagesBytes,
		ContainersBytes: sum.ContainersBytes,
		VolumesBytes:    sum.VolumesBytes,
		BuildCacheBytes: sum.BuildCacheBytes,
		TotalBytes:      sum.TotalBytes,
		CapacityBytes:   sum.CapacityBytes,
		CapacitySource:  sum.CapacitySource,
		Percent:         sum.Percent,
	}); err != nil {
		return workflows.DiskSummary{}, storeError(ctx, "store disk usage", "of "+env.Name, err)
	}
	return sum, nil
}

// filesystemSize is the size of the filesystem holding path, when the path
// exists on this machine (a local engine's DockerRootDir).
func filesystemSize(path string) (int64, bool) {
	if path == "" {
		return 0, false
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, false
	}
	size := int64(st.Blocks) * int64(st.Bsize)
	return size, size > 0
}

// RecordDiskWarning records that a disk check crossed the threshold, and
// the notifications of the subscribed channels, in one transaction keyed by
// the check, then starts their delivery.
func (a *Activities) RecordDiskWarning(ctx context.Context, in workflows.RecordDiskWarningInput) error {
	env, err := a.environment(ctx, in.EnvironmentID)
	if err != nil {
		return err
	}
	title, message := notify.DiskMessage(env.Name, notify.DiskFacts{
		TotalBytes:     in.Summary.TotalBytes,
		CapacityBytes:  in.Summary.CapacityBytes,
		Percent:        in.Summary.Percent,
		Reason:         in.Reason,
		CapacitySource: in.Summary.CapacitySource,
	})
	ids, err := a.Store.RecordDiskWarning(ctx, env.ID, in.CheckAt, store.NotificationDraft{
		Kind:     notify.KindDiskSpaceWarning,
		Title:    title,
		Message:  message,
		CauseKey: fmt.Sprintf("disk:%s:%d", env.ID, in.CheckAt.UnixNano()),
	})
	if err != nil {
		return storeError(ctx, "record disk warning", "of "+env.Name, err)
	}
	a.startDeliveries(ctx, ids)
	return nil
}
