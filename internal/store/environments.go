package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Environment is a watched Docker engine and its collection settings.
type Environment struct {
	// ID identifies the environment; CreateEnvironment generates it when zero.
	ID uuid.UUID
	// Name is unique, 1 to 100 characters.
	Name string
	// Endpoint is the Docker host URL, e.g. unix:///var/run/docker.sock or
	// tcp://host:2376.
	Endpoint string
	// MetricsInterval is the time between two collection cycles, a whole
	// number of seconds from 10s to 5m.
	MetricsInterval time.Duration
	// CollectMetrics turns metric collection on; when off the engine is only
	// checked for reachability.
	CollectMetrics bool
	// Paused stops both collection and checks.
	Paused bool
	// OfflineAfter is the number of consecutive failed checks, 1 to 20, that
	// turn the environment offline.
	OfflineAfter int
	// EventsEnabled turns container-event collection on.
	EventsEnabled bool
	// EventMode is how events are collected: "stream" or "poll". Empty is
	// stored as "stream".
	EventMode string
	// PollInterval is the time between two event polls in poll mode, a whole
	// number of seconds from 30s to 5m. Zero is stored as one minute.
	PollInterval time.Duration
	// DiskInterval is the time between two disk checks, a whole number of
	// seconds from 1m to 1h; DiskTimeout bounds one check, 5s to 2m;
	// DiskCooldown is the least time between two disk warnings, 1m to 24h.
	// Zero is stored as the default (DefaultDiskInterval, DefaultDiskTimeout,
	// DefaultDiskCooldown).
	DiskInterval, DiskTimeout, DiskCooldown time.Duration
	// DiskThresholdMode is "percent", "bytes" or "off"; empty is stored as
	// DefaultDiskThresholdMode.
	DiskThresholdMode string
	// DiskThresholdPercent is the warning threshold in percent mode, 1 to
	// 100; zero is stored as DefaultDiskThresholdPercent.
	DiskThresholdPercent float64
	// DiskThresholdBytes is the warning threshold in bytes mode, at least 1;
	// zero is stored as DefaultDiskThresholdBytes.
	DiskThresholdBytes int64
	// DiskCapacityBytes is the capacity percentages are computed against: 0
	// means auto (statfs of a local engine), -1 unknown.
	DiskCapacityBytes int64
	// TLS is the TLS client configuration of a tcp:// endpoint, sealed;
	// nil for none. UpdateEnvironment writes it like every other field, so
	// an update that starts from GetEnvironment keeps it.
	TLS *EnvironmentTLS
	// Version counts the changes of the row: 1 when created, one more at
	// every write (the API's ETag). Set by the database.
	Version int64
	// SettingsPending is true while the environment's workflow may not run
	// with the stored settings (a change stored but not yet confirmed by the
	// workflow, or a workflow not yet started); see LockEnvironment.
	SettingsPending bool
	// CreatedAt and UpdatedAt are set by the database.
	CreatedAt, UpdatedAt time.Time
}

const environmentColumns = `id, name, endpoint, metrics_interval_seconds, collect_metrics,
	paused, offline_after, events_enabled, event_mode, poll_interval_seconds,
	disk_interval_seconds, disk_timeout_seconds, disk_threshold_mode, disk_threshold_percent,
	disk_threshold_bytes, disk_capacity_bytes, disk_cooldown_seconds,
	tls_sealed, tls_ca, tls_client_subject, tls_client_not_after, version, settings_pending,
	created_at, updated_at`

// Event settings stored for an Environment whose fields are left zero.
const (
	DefaultEventMode    = "stream"
	DefaultPollInterval = time.Minute
)

// Disk settings stored for an Environment whose fields are left zero (the
// same defaults as the workflow's).
const (
	DefaultDiskInterval         = 5 * time.Minute
	DefaultDiskTimeout          = 20 * time.Second
	DefaultDiskThresholdMode    = "percent"
	DefaultDiskThresholdPercent = 80.0
	DefaultDiskThresholdBytes   = int64(50_000_000_000)
	DefaultDiskCooldown         = time.Hour
)

// diskColumns are the disk settings as stored.
type diskColumns struct {
	intervalSeconds, timeoutSeconds, cooldownSeconds int32
	mode                                             string
	percent                                          float64
	thresholdBytes, capacityBytes                    int64
}

// diskSettings returns the disk settings to store for e, with the zero
// values replaced by their defaults. The ranges are checked by the database.
func diskSettings(e Environment) (diskColumns, error) {
	c := diskColumns{
		mode: e.DiskThresholdMode, percent: e.DiskThresholdPercent,
		thresholdBytes: e.DiskThresholdBytes, capacityBytes: e.DiskCapacityBytes,
	}
	interval, timeout, cooldown := e.DiskInterval, e.DiskTimeout, e.DiskCooldown
	if interval == 0 {
		interval = DefaultDiskInterval
	}
	if timeout == 0 {
		timeout = DefaultDiskTimeout
	}
	if cooldown == 0 {
		cooldown = DefaultDiskCooldown
	}
	if c.mode == "" {
		c.mode = DefaultDiskThresholdMode
	}
	if c.percent == 0 {
		c.percent = DefaultDiskThresholdPercent
	}
	if c.thresholdBytes == 0 {
		c.thresholdBytes = DefaultDiskThresholdBytes
	}
	if err := finite("disk threshold percent", c.percent); err != nil {
		return diskColumns{}, err
	}
	var err error
	if c.intervalSeconds, err = wholeSeconds("disk interval", interval); err != nil {
		return diskColumns{}, err
	}
	if c.timeoutSeconds, err = wholeSeconds("disk timeout", timeout); err != nil {
		return diskColumns{}, err
	}
	if c.cooldownSeconds, err = wholeSeconds("disk cooldown", cooldown); err != nil {
		return diskColumns{}, err
	}
	return c, nil
}

// eventSettings returns the event mode and poll interval (whole seconds) to
// store for e, with the zero values replaced by their defaults.
func eventSettings(e Environment) (mode string, pollSeconds int32, err error) {
	mode, poll := e.EventMode, e.PollInterval
	if mode == "" {
		mode = DefaultEventMode
	}
	if poll == 0 {
		poll = DefaultPollInterval
	}
	pollSeconds, err = wholeSeconds("poll interval", poll)
	return mode, pollSeconds, err
}

// environmentValues converts e into the column values $1..$21 that
// CreateEnvironment and UpdateEnvironment write, in this order: id, name,
// endpoint, metrics interval, collect, paused, offline after, events enabled,
// event mode, poll interval, the seven disk settings, the four TLS columns.
func environmentValues(e Environment) ([]any, error) {
	seconds, err := intervalSeconds(e.MetricsInterval)
	if err != nil {
		return nil, err
	}
	mode, pollSeconds, err := eventSettings(e)
	if err != nil {
		return nil, err
	}
	disk, err := diskSettings(e)
	if err != nil {
		return nil, err
	}
	tlsCols, err := tlsColumnsOf(e.TLS)
	if err != nil {
		return nil, err
	}
	return []any{
		e.ID, e.Name, e.Endpoint, seconds, e.CollectMetrics, e.Paused, e.OfflineAfter,
		e.EventsEnabled, mode, pollSeconds,
		disk.intervalSeconds, disk.timeoutSeconds, disk.mode, disk.percent,
		disk.thresholdBytes, disk.capacityBytes, disk.cooldownSeconds,
		tlsCols.sealed, tlsCols.ca, tlsCols.clientSubject, tlsCols.clientExpiry,
	}, nil
}

// CreateEnvironment stores a new environment and returns it as stored. A zero
// ID is replaced by a generated one, a zero EventMode or PollInterval by its
// default (DefaultEventMode, DefaultPollInterval); CreatedAt and UpdatedAt
// are set to now, Version to 1; SettingsPending is stored as given.
// It returns ErrNameTaken when the name is used, ErrInvalid when a setting is
// out of range.
func (s *Store) CreateEnvironment(ctx context.Context, e Environment) (Environment, error) {
	if e.ID == uuid.Nil {
		e.ID = uuid.New()
	}
	values, err := environmentValues(e)
	if err != nil {
		return Environment{}, fmt.Errorf("store: create environment: %w", err)
	}
	rows, _ := s.pool.Query(ctx, `
		INSERT INTO environments (id, name, endpoint, metrics_interval_seconds,
			collect_metrics, paused, offline_after, events_enabled, event_mode, poll_interval_seconds,
			disk_interval_seconds, disk_timeout_seconds, disk_threshold_mode, disk_threshold_percent,
			disk_threshold_bytes, disk_capacity_bytes, disk_cooldown_seconds,
			tls_sealed, tls_ca, tls_client_subject, tls_client_not_after, settings_pending)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
		RETURNING `+environmentColumns,
		append(values, e.SettingsPending)...)
	created, err := pgx.CollectExactlyOneRow(rows, scanEnvironment)
	if err != nil {
		return Environment{}, wrapEnvironmentError("create environment", err)
	}
	return created, nil
}

// GetEnvironment returns the environment with the given ID, or ErrNotFound.
func (s *Store) GetEnvironment(ctx context.Context, id uuid.UUID) (Environment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+environmentColumns+` FROM environments WHERE id = $1`, id)
	e, err := pgx.CollectExactlyOneRow(rows, scanEnvironment)
	if err != nil {
		return Environment{}, wrapEnvironmentError(fmt.Sprintf("get environment %s", id), err)
	}
	return e, nil
}

// GetEnvironmentByName returns the environment with the given name, or
// ErrNotFound.
func (s *Store) GetEnvironmentByName(ctx context.Context, name string) (Environment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+environmentColumns+` FROM environments WHERE name = $1`, name)
	e, err := pgx.CollectExactlyOneRow(rows, scanEnvironment)
	if err != nil {
		return Environment{}, wrapEnvironmentError(fmt.Sprintf("get environment %q", name), err)
	}
	return e, nil
}

// ListEnvironments returns every environment ordered by name.
func (s *Store) ListEnvironments(ctx context.Context) ([]Environment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+environmentColumns+` FROM environments ORDER BY name, id`)
	envs, err := pgx.CollectRows(rows, scanEnvironment)
	if err != nil {
		return nil, fmt.Errorf("store: list environments: %w", err)
	}
	return envs, nil
}

// UpdateEnvironment replaces the name, endpoint, settings and TLS material
// of the environment e.ID with those of e, sets UpdatedAt to now, counts one
// more Version and returns the environment as stored; a zero EventMode or
// PollInterval is stored as its default, like in CreateEnvironment. It
// returns ErrNotFound, ErrNameTaken or ErrInvalid.
//
// It writes every column from e: a copy read earlier undoes whatever changed
// since. Concurrent writers use LockEnvironment, which reads and writes under
// the row lock.
func (s *Store) UpdateEnvironment(ctx context.Context, e Environment) (Environment, error) {
	values, err := environmentValues(e)
	if err != nil {
		return Environment{}, fmt.Errorf("store: update environment: %w", err)
	}
	rows, _ := s.pool.Query(ctx, `
		UPDATE environments SET
			name = $2,
			endpoint = $3,
			metrics_interval_seconds = $4,
			collect_metrics = $5,
			paused = $6,
			offline_after = $7,
			events_enabled = $8,
			event_mode = $9,
			poll_interval_seconds = $10,
			disk_interval_seconds = $11,
			disk_timeout_seconds = $12,
			disk_threshold_mode = $13,
			disk_threshold_percent = $14,
			disk_threshold_bytes = $15,
			disk_capacity_bytes = $16,
			disk_cooldown_seconds = $17,
			tls_sealed = $18,
			tls_ca = $19,
			tls_client_subject = $20,
			tls_client_not_after = $21,
			version = version + 1,
			updated_at = now()
		WHERE id = $1
		RETURNING `+environmentColumns,
		values...)
	updated, err := pgx.CollectExactlyOneRow(rows, scanEnvironment)
	if err != nil {
		return Environment{}, wrapEnvironmentError(fmt.Sprintf("update environment %s", e.ID), err)
	}
	return updated, nil
}

// DeleteEnvironment deletes the environment and, by cascade, its metrics and
// status history. It returns ErrNotFound when there is no such environment.
func (s *Store) DeleteEnvironment(ctx context.Context, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM environments WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete environment: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: delete environment %s: %w", id, ErrNotFound)
	}
	return nil
}

// scanEnvironment reads one row selected with environmentColumns.
func scanEnvironment(row pgx.CollectableRow) (Environment, error) {
	var (
		e                                   Environment
		seconds, pollSeconds                int32
		diskInterval, diskTimeout, cooldown int32
		tlsCols                             tlsColumns
	)
	err := row.Scan(&e.ID, &e.Name, &e.Endpoint, &seconds, &e.CollectMetrics,
		&e.Paused, &e.OfflineAfter, &e.EventsEnabled, &e.EventMode, &pollSeconds,
		&diskInterval, &diskTimeout, &e.DiskThresholdMode, &e.DiskThresholdPercent,
		&e.DiskThresholdBytes, &e.DiskCapacityBytes, &cooldown,
		&tlsCols.sealed, &tlsCols.ca, &tlsCols.clientSubject, &tlsCols.clientExpiry,
		&e.Version, &e.SettingsPending, &e.CreatedAt, &e.UpdatedAt)
	if err != nil {
		return Environment{}, err
	}
	e.TLS = tlsCols.environmentTLS()
	e.MetricsInterval = time.Duration(seconds) * time.Second
	e.PollInterval = time.Duration(pollSeconds) * time.Second
	e.DiskInterval = time.Duration(diskInterval) * time.Second
	e.DiskTimeout = time.Duration(diskTimeout) * time.Second
	e.DiskCooldown = time.Duration(cooldown) * time.Second
	e.CreatedAt = e.CreatedAt.UTC()
	e.UpdatedAt = e.UpdatedAt.UTC()
	return e, nil
}

// intervalSeconds converts a metrics interval to the whole seconds stored in
// the database. The range itself is checked by the database.
func intervalSeconds(d time.Duration) (int32, error) {
	return wholeSeconds("metrics interval", d)
}

// wholeSeconds converts the duration setting named what to the whole seconds
// stored in the database. The range itself is checked by the database.
func wholeSeconds(what string, d time.Duration) (int32, error) {
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%w: %s %s is not a whole number of seconds", ErrInvalid, what, d)
	}
	if d < math.MinInt32*time.Second || d > math.MaxInt32*time.Second {
		return 0, fmt.Errorf("%w: %s %s is out of range", ErrInvalid, what, d)
	}
	return int32(d / time.Second), nil
}

// wrapEnvironmentError maps the errors of a statement on environments.
func wrapEnvironmentError(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	if code, constraint := pgErrorCode(err); code == codeUniqueViolation && constraint == "environments_name_key" {
		return fmt.Errorf("store: %s: %w: %w", op, ErrNameTaken, err)
	}
	return wrapWriteError(op, err)
}
