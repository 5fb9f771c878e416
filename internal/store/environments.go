package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/windflow/monitor/internal/settings"
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
	// Settings are the environment's collection settings. The store
	// validates them and writes their unset fields as their defaults.
	Settings settings.Settings
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

const environmentColumns = `id, name, endpoint, settings,
	tls_sealed, tls_ca, tls_client_subject, tls_client_not_after, version, settings_pending,
	created_at, updated_at`

// settingsColumn returns the settings to store, as JSON: set with its unset
// fields filled with their defaults, once valid and exactly representable
// (durations in whole seconds).
func settingsColumn(set settings.Settings) ([]byte, error) {
	set = set.InEffect()
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	raw, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if back, err := scanSettings(raw); err != nil || back != set {
		return nil, fmt.Errorf("%w: settings durations must be whole seconds", ErrInvalid)
	}
	return raw, nil
}

// scanSettings reads the settings column: keys it lacks (settings added
// after the row was written) read as their defaults.
func scanSettings(raw []byte) (settings.Settings, error) {
	set := settings.Default()
	if err := json.Unmarshal(raw, &set); err != nil {
		return settings.Settings{}, fmt.Errorf("settings: %w", err)
	}
	return set, nil
}

// environmentValues converts e into the column values $1..$8 that
// CreateEnvironment and UpdateEnvironment write, in this order: id, name,
// endpoint, settings, the four TLS columns.
func environmentValues(e Environment) ([]any, error) {
	set, err := settingsColumn(e.Settings)
	if err != nil {
		return nil, err
	}
	tlsCols, err := tlsColumnsOf(e.TLS)
	if err != nil {
		return nil, err
	}
	return []any{
		e.ID, e.Name, e.Endpoint, set,
		tlsCols.sealed, tlsCols.ca, tlsCols.clientSubject, tlsCols.clientExpiry,
	}, nil
}

// CreateEnvironment stores a new environment and returns it as stored. A zero
// ID is replaced by a generated one, unset settings by their defaults
// (settings.Settings.InEffect); CreatedAt and UpdatedAt
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
		INSERT INTO environments (id, name, endpoint, settings,
			tls_sealed, tls_ca, tls_client_subject, tls_client_not_after, settings_pending)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
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
// more Version and returns the environment as stored; unset settings are
// stored as their defaults, like in CreateEnvironment. It
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
			settings = $4,
			tls_sealed = $5,
			tls_ca = $6,
			tls_client_subject = $7,
			tls_client_not_after = $8,
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
		e       Environment
		set     []byte
		tlsCols tlsColumns
	)
	err := row.Scan(&e.ID, &e.Name, &e.Endpoint, &set,
		&tlsCols.sealed, &tlsCols.ca, &tlsCols.clientSubject, &tlsCols.clientExpiry,
		&e.Version, &e.SettingsPending, &e.CreatedAt, &e.UpdatedAt)
	if err != nil {
		return Environment{}, err
	}
	if e.Settings, err = scanSettings(set); err != nil {
		return Environment{}, err
	}
	e.TLS = tlsCols.environmentTLS()
	e.CreatedAt = e.CreatedAt.UTC()
	e.UpdatedAt = e.UpdatedAt.UTC()
	return e, nil
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
