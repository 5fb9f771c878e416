package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// readStats reads one stats record of container id. With prev == nil it asks
// for stream=false, where the daemon waits for one more collector pass
// (about 1 s) and fills precpu_stats; otherwise for a one-shot record, with
// precpu_stats empty, and the CPU % is computed against *prev. A one-shot
// read costs one collector pass on engines that route it through their
// collector (dockerd 20.10: at once if the collector was asleep, else at its
// next pass; see the package doc), milliseconds on newer ones. ok is false when the container vanished between the list
// and this read (404, 409, or the empty record a stopped container gives).
func readStats(ctx context.Context, cli *client.Client, id string, prev *CPUCounters) (s ContainerSample, ok bool, err error) {
	res, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{
		Stream:                false,
		IncludePreviousSample: prev == nil,
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
			return ContainerSample{}, false, nil
		}
		return ContainerSample{}, false, engineError(fmt.Sprintf("stats of %s", id), err)
	}
	defer func() { _ = res.Body.Close() }()

	var rec container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&rec); err != nil {
		if errors.Is(err, io.EOF) && ctx.Err() == nil {
			return ContainerSample{}, false, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return ContainerSample{}, false, engineError(fmt.Sprintf("decode stats of %s", id), err)
	}
	if rec.Read.IsZero() {
		// A container that stopped answers {"id":…,"name":…} at once.
		return ContainerSample{}, false, nil
	}
	return SampleFromStats(rec, prev), true, nil
}
