package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// DiskSample is Docker's disk usage of an environment at one disk check.
type DiskSample struct {
	// EnvironmentID and CheckAt (the workflow time of the check) identify
	// the sample: a second insert of the same pair writes nothing.
	EnvironmentID uuid.UUID
	CheckAt       time.Time
	// CheckedAt is when the usage was read; CheckAt when zero.
	CheckedAt time.Time
	// The usage by kind and in total, in bytes.
	ImagesBytes, ContainersBytes, VolumesBytes, BuildCacheBytes, TotalBytes int64
	// CapacityBytes is the capacity the usage is compared with, 0 when
	// unknown; CapacitySource says where it came from ("configured",
	// "statfs" or "").
	CapacityBytes  int64
	CapacitySource string
	// Percent is TotalBytes / CapacityBytes × 100, 0 when the capacity is
	// unknown. It must be finite.
	Percent float64
	// Warned tells whether a disk warning was recorded for this check (see
	// RecordDiskWarning).
	Warned bool
}

// DiskPoint is the average of the disk samples of one time bucket.
type DiskPoint struct {
	// Time is the start of the bucket.
	Time time.Time
	// Averages of the samples, in bytes and percent.
	TotalBytes, CapacityBytes float64
	Percent                   float64
	ImagesBytes               float64
	ContainersBytes           float64
	VolumesBytes              float64
	BuildCacheBytes           float64
	// Samples is the number of samples averaged.
	Samples int
	// Warned is true when a warning was recorded for one of the samples.
	Warned bool
}

// InsertDiskSample stores one disk sample. When the sample of
// (EnvironmentID, CheckAt) already exists, as for a retried activity,
// nothing is written and inserted is false. A NaN or infinite Percent or a
// zero key gives ErrInvalid, an unknown environment ErrNotFound.
func (s *Store) InsertDiskSample(ctx context.Context, d DiskSample) (inserted bool, err error) {
	if d.EnvironmentID == uuid.Nil || d.CheckAt.IsZero() {
		return false, fmt.Errorf("store: insert disk sample: %w: EnvironmentID and CheckAt are required", ErrInvalid)
	}
	if err := finite("disk percent", d.Percent); err != nil {
		return false, fmt.Errorf("store: insert disk sample: %w", err)
	}
	if d.CheckedAt.IsZero() {
		d.CheckedAt = d.CheckAt
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO disk_usage (environment_id, check_at, checked_at, images_bytes, containers_bytes,
			volumes_bytes, build_cache_bytes, total_bytes, capacity_bytes, capacity_source, percent, warned)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (environment_id, check_at) DO NOTHING`,
		d.EnvironmentID, d.CheckAt, d.CheckedAt, d.ImagesBytes, d.ContainersBytes,
		d.VolumesBytes, d.BuildCacheBytes, d.TotalBytes, d.CapacityBytes, cleanText(d.CapacitySource),
		d.Percent, d.Warned)
	if err != nil {
		return false, wrapWriteError("insert disk sample", err)
	}
	return tag.RowsAffected() == 1, nil
}

// GetDiskSample returns the sample of (envID, checkAt), or ErrNotFound.
func (s *Store) GetDiskSample(ctx context.Context, envID uuid.UUID, checkAt time.Time) (DiskSample, error) {
	d := DiskSample{EnvironmentID: envID}
	err := s.pool.QueryRow(ctx, `
		SELECT check_at, checked_at, images_bytes, containers_bytes, volumes_bytes, build_cache_bytes,
			total_bytes, capacity_bytes, capacity_source, percent, warned
		FROM disk_usage WHERE environment_id = $1 AND check_at = $2`, envID, checkAt).Scan(
		&d.CheckAt, &d.CheckedAt, &d.ImagesBytes, &d.ContainersBytes, &d.VolumesBytes, &d.BuildCacheBytes,
		&d.TotalBytes, &d.CapacityBytes, &d.CapacitySource, &d.Percent, &d.Warned)
	if errors.Is(err, pgx.ErrNoRows) {
		return DiskSample{}, fmt.Errorf("store: disk sample of %s at %s: %w", envID, checkAt, ErrNotFound)
	}
	if err != nil {
		return DiskSample{}, fmt.Errorf("store: disk sample: %w", err)
	}
	d.CheckAt, d.CheckedAt = d.CheckAt.UTC(), d.CheckedAt.UTC()
	return d, nil
}

// RecordDiskWarning marks the sample of (envID, checkAt) as warned and
// creates the notifications of draft for every matching channel, in one
// transaction (the default cause key is "disk:<env>:<checkAt Unix ns>").
// It is idempotent: a second call creates no notification (dedup keys) and
// returns no ID. The sample must exist (InsertDiskSample), otherwise
// ErrNotFound; a draft without Kind gives ErrInvalid.
func (s *Store) RecordDiskWarning(ctx context.Context, envID uuid.UUID, checkAt time.Time, draft NotificationDraft) (notificationIDs []int64, err error) {
	if envID == uuid.Nil || checkAt.IsZero() {
		return nil, fmt.Errorf("store: record disk warning: %w: environment ID and check time are required", ErrInvalid)
	}
	env := envID
	row, err := newDraftRow(&env, draft, fmt.Sprintf("disk:%s:%d", envID, checkAt.UnixNano()))
	if err != nil {
		return nil, fmt.Errorf("store: record disk warning: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		notificationIDs = nil
		tag, err := tx.Exec(ctx, `
			UPDATE disk_usage SET warned = true WHERE environment_id = $1 AND check_at = $2`, envID, checkAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("disk sample of %s at %s: %w", envID, checkAt.UTC().Format(time.RFC3339Nano), ErrNotFound)
		}
		notificationIDs, err = insertNotifications(ctx, tx, []draftRow{row})
		return err
	})
	if err != nil {
		return nil, wrapWriteError("record disk warning", err)
	}
	return notificationIDs, nil
}

// DiskSeries averages the disk samples of the environment checked in
// [from, to) into buckets of length step starting at from, ordered by time.
// Buckets without samples are omitted. step must be at least a microsecond.
func (s *Store) DiskSeries(ctx context.Context, envID uuid.UUID, from, to time.Time, step time.Duration) ([]DiskPoint, error) {
	if step < time.Microsecond {
		return nil, fmt.Errorf("store: disk series: %w: step %s is below a microsecond", ErrInvalid, step)
	}
	stride := pgtype.Interval{Microseconds: step.Microseconds(), Valid: true}
	rows, _ := s.pool.Query(ctx, `
		SELECT date_bin($4::interval, checked_at, $2::timestamptz) AS bucket,
			avg(total_bytes)::float8,
			avg(capacity_bytes)::float8,
			avg(percent),
			avg(images_bytes)::float8,
			avg(containers_bytes)::float8,
			avg(volumes_bytes)::float8,
			avg(build_cache_bytes)::float8,
			count(*)::int,
			bool_or(warned)
		FROM disk_usage
		WHERE environment_id = $1
			AND checked_at >= $2::timestamptz
			AND checked_at < $3::timestamptz
		GROUP BY bucket
		ORDER BY bucket`,
		envID, from, to, stride)
	points, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DiskPoint, error) {
		var (
			p       DiskPoint
			samples int32
		)
		err := row.Scan(&p.Time, &p.TotalBytes, &p.CapacityBytes, &p.Percent, &p.ImagesBytes,
			&p.ContainersBytes, &p.VolumesBytes, &p.BuildCacheBytes, &samples, &p.Warned)
		p.Time = p.Time.UTC()
		p.Samples = int(samples)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: disk series: %w", err)
	}
	return points, nil
}
