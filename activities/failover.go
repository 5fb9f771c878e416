package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/store"
)

// Stream failover. A detached stream lives in its worker's memory; when the
// worker dies, the server would only notice at the stream's heartbeat
// timeout (minutes). Instead each worker process renews a lease in Postgres
// every LeaseRenewInterval, each stream records its worker and task token,
// and every worker fails, through the token, the streams of workers whose
// lease expired: their retry starts on a live worker within seconds. This
// costs two small queries per worker process per interval, and no Temporal
// heartbeat.

// Timing of the stream failover.
const (
	// LeaseRenewInterval is how often a worker renews its lease and looks
	// for orphaned streams.
	LeaseRenewInterval = 2 * time.Second
	// LeaseTTL is how long a lease outlives its last renewal: a few missed
	// renewals (a slow database) do not fail a live worker's streams.
	LeaseTTL = 8 * time.Second
	// orphanRetryDelay is how soon the retry of a failed-over stream starts.
	orphanRetryDelay = time.Second
	// orphanBatch bounds the streams one sweep takes over.
	orphanBatch = 500
)

// ErrTypeWorkerLost is the type of the (retryable) failure a live worker
// gives the stream attempt of a worker whose lease expired.
const ErrTypeWorkerLost = "WorkerLost"

// StreamLeases is what the stream failover needs of Postgres.
type StreamLeases interface {
	RenewWorkerLease(ctx context.Context, workerID string, ttl time.Duration) error
	DropWorkerLease(ctx context.Context, workerID string) error
	HoldStream(ctx context.Context, envID uuid.UUID, workerID string, taskToken []byte) error
	ReleaseStream(ctx context.Context, envID uuid.UUID, taskToken []byte) error
	TakeOrphanedStreams(ctx context.Context, self string, limit int) ([]store.OrphanedStream, error)
	ForgetOldWorkerLeases(ctx context.Context) error
}

// NewWorkerID names one worker process for its lease: host, pid and a
// random suffix (a restarted process on the same host gets a new one).
func NewWorkerID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
}

// StartStreamFailover takes the first lease of a's worker (so that its
// streams are never held without one), then renews it and fails orphaned
// streams until ctx ends or stop is called; stop drops the lease. Without
// Leases it does nothing. (A function, not a method: every exported method
// of Activities is registered as an activity.)
func StartStreamFailover(ctx context.Context, a *Activities) (stop func(), err error) {
	if a.Leases == nil {
		return func() {}, nil
	}
	if a.WorkerID == "" {
		a.WorkerID = NewWorkerID()
	}
	rctx, cancel := context.WithTimeout(ctx, LeaseRenewInterval)
	err = a.Leases.RenewWorkerLease(rctx, a.WorkerID, LeaseTTL)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("take worker lease: %w", err)
	}
	// Dead workers' leases go when a worker starts (as one replaces them),
	// not on every sweep.
	rctx, cancel = context.WithTimeout(ctx, LeaseRenewInterval)
	if err := a.Leases.ForgetOldWorkerLeases(rctx); err != nil {
		logger(rctx).Warn("Old worker leases not forgotten", "Error", err)
	}
	cancel()
	ctx, cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.runLease(ctx)
	}()
	return func() {
		cancel()
		<-done
		dctx, dcancel := context.WithTimeout(context.Background(), completerTimeout)
		defer dcancel()
		if err := a.Leases.DropWorkerLease(dctx, a.WorkerID); err != nil {
			logger(dctx).Warn("Worker lease not dropped", "Error", err)
		}
	}, nil
}

// runLease renews the lease and sweeps orphaned streams every
// LeaseRenewInterval, starting with a sweep (a worker that starts after a
// crash takes over at once what has already expired).
func (a *Activities) runLease(ctx context.Context) {
	t := time.NewTicker(LeaseRenewInterval)
	defer t.Stop()
	for {
		a.sweepOrphanedStreams(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, LeaseRenewInterval)
		err := a.Leases.RenewWorkerLease(rctx, a.WorkerID, LeaseTTL)
		cancel()
		if err != nil && ctx.Err() == nil {
			logger(ctx).Warn("Worker lease not renewed", "Error", err)
		}
	}
}

// sweepOrphanedStreams fails the attempts of the streams whose worker's
// lease expired, so that the server retries them at once.
func (a *Activities) sweepOrphanedStreams(ctx context.Context) {
	if a.Completer == nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, LeaseRenewInterval)
	orphans, err := a.Leases.TakeOrphanedStreams(sctx, a.WorkerID, orphanBatch)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			logger(ctx).Warn("Orphaned event streams not read", "Error", err)
		}
		return
	}
	for _, o := range orphans {
		lost := temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("worker %s stopped renewing its lease: this attempt of the event stream is failed so that a live worker resumes it", o.WorkerID),
			ErrTypeWorkerLost, temporal.ApplicationErrorOptions{NextRetryDelay: orphanRetryDelay})
		cctx, ccancel := context.WithTimeout(ctx, completerTimeout)
		err := a.Completer.CompleteActivity(cctx, o.TaskToken, nil, lost)
		ccancel()
		var notFound *serviceerror.NotFound
		switch {
		case err == nil:
			logger(ctx).Info("Event stream of a lost worker failed over", "EnvironmentID", o.EnvironmentID, "LostWorker", o.WorkerID)
		case errors.As(err, &notFound):
			// That attempt ended already (completed, timed out, retried).
		default:
			logger(ctx).Warn("Event stream of a lost worker not failed over; its heartbeat timeout will",
				"EnvironmentID", o.EnvironmentID, "LostWorker", o.WorkerID, "Error", err)
		}
	}
}

// holdStream records that this worker follows the stream s (best effort:
// without the record, the stream's heartbeat timeout is its failover).
func (a *Activities) holdStream(s *eventStream) (release func()) {
	if a.Leases == nil || a.WorkerID == "" {
		return func() {}
	}
	ctx, cancel := context.WithTimeout(s.ctx, completerTimeout)
	err := a.Leases.HoldStream(ctx, s.env.ID, a.WorkerID, s.token)
	cancel()
	if err != nil {
		logger(s.ctx).Warn("Event stream holder not recorded", "Error", err)
		return func() {}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), completerTimeout)
		defer cancel()
		if err := a.Leases.ReleaseStream(ctx, s.env.ID, s.token); err != nil {
			logger(s.ctx).Warn("Event stream holder not released", "Error", err)
		}
	}
}
