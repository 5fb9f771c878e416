package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Channel is a notification channel: a shoutrrr URL and a subscription.
type Channel struct {
	// ID identifies the channel; CreateChannel generates it when zero.
	ID uuid.UUID
	// Name is unique, 1 to 100 characters.
	Name string
	// URL is the shoutrrr URL. It is a secret: never log it, never return
	// it in full from the API, never put it in workflow history.
	URL string
	// Enabled channels receive notifications; disabled ones are skipped.
	Enabled bool
	// Environments limits the channel to these environments; empty means
	// every environment.
	Environments []uuid.UUID
	// Kinds limits the channel to these kinds; empty means the default kinds
	// (DefaultKinds).
	Kinds []string
	// CreatedAt and UpdatedAt are set by the database.
	CreatedAt, UpdatedAt time.Time
}

// DefaultKinds are the kinds a channel with an empty Kinds list receives:
// every kind except container_started and container_stopped. It mirrors
// notify.DefaultKinds (a test asserts they are equal); the store keeps a copy
// so that it does not depend on the notify package.
var DefaultKinds = []string{
	"environment_offline",
	"environment_online",
	"disk_space_warning",
	"container_oom",
	"container_unhealthy",
	"container_healthy",
	"container_died_unexpectedly",
	"alert_firing",
	"alert_resolved",
}

const channelColumns = `id, name, url, enabled, environments, kinds, created_at, updated_at`

// CreateChannel stores a new channel and returns it as stored. A zero ID is
// replaced by a generated one; nil Environments and Kinds are stored empty,
// and duplicates in them are dropped. It returns ErrNameTaken when the name
// is used and ErrInvalid for an empty name or URL. The URL itself is not
// validated here.
func (s *Store) CreateChannel(ctx context.Context, c Channel) (Channel, error) {
	if c.ID == uuid.Nil {
		c.ID = uuid.New()
	}
	rows, _ := s.pool.Query(ctx, `
		INSERT INTO notification_channels (id, name, url, enabled, environments, kinds)
		VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING `+channelColumns,
		c.ID, c.Name, c.URL, c.Enabled, uniqueIDs(c.Environments), uniqueStrings(c.Kinds))
	created, err := pgx.CollectExactlyOneRow(rows, scanChannel)
	if err != nil {
		return Channel{}, wrapChannelError("create channel", err)
	}
	return created, nil
}

// GetChannel returns the channel with the given ID, or ErrNotFound.
func (s *Store) GetChannel(ctx context.Context, id uuid.UUID) (Channel, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+channelColumns+` FROM notification_channels WHERE id = $1`, id)
	c, err := pgx.CollectExactlyOneRow(rows, scanChannel)
	if err != nil {
		return Channel{}, wrapChannelError(fmt.Sprintf("get channel %s", id), err)
	}
	return c, nil
}

// ListChannels returns every channel ordered by name.
func (s *Store) ListChannels(ctx context.Context) ([]Channel, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+channelColumns+` FROM notification_channels ORDER BY name, id`)
	channels, err := pgx.CollectRows(rows, scanChannel)
	if err != nil {
		return nil, fmt.Errorf("store: list channels: %w", err)
	}
	return channels, nil
}

// UpdateChannel replaces the name, URL, Enabled flag and subscription of
// the channel c.ID, sets UpdatedAt to now and returns the channel as stored.
// It returns ErrNotFound, ErrNameTaken or ErrInvalid.
func (s *Store) UpdateChannel(ctx context.Context, c Channel) (Channel, error) {
	rows, _ := s.pool.Query(ctx, `
		UPDATE notification_channels SET
			name = $2,
			url = $3,
			enabled = $4,
			environments = $5,
			kinds = $6,
			updated_at = now()
		WHERE id = $1
		RETURNING `+channelColumns,
		c.ID, c.Name, c.URL, c.Enabled, uniqueIDs(c.Environments), uniqueStrings(c.Kinds))
	updated, err := pgx.CollectExactlyOneRow(rows, scanChannel)
	if err != nil {
		return Channel{}, wrapChannelError(fmt.Sprintf("update channel %s", c.ID), err)
	}
	return updated, nil
}

// DeleteChannel deletes the channel and, by cascade, its notifications,
// and removes it from the alert rules that name it (a rule left with no
// channel goes back to the subscriptions), in one transaction. It returns
// ErrNotFound when there is no such channel.
func (s *Store) DeleteChannel(ctx context.Context, id uuid.UUID) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM notification_channels WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%s: %w", id, ErrNotFound)
		}
		_, err = tx.Exec(ctx, `
			UPDATE alert_rules SET channel_ids = array_remove(channel_ids, $1), updated_at = now()
			WHERE $1 = ANY (channel_ids)`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete channel: %w", err)
	}
	return nil
}

// scanChannel reads one row selected with channelColumns.
func scanChannel(row pgx.CollectableRow) (Channel, error) {
	var c Channel
	err := row.Scan(&c.ID, &c.Name, &c.URL, &c.Enabled, &c.Environments, &c.Kinds, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return Channel{}, err
	}
	if c.Environments == nil {
		c.Environments = []uuid.UUID{}
	}
	if c.Kinds == nil {
		c.Kinds = []string{}
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, nil
}

// wrapChannelError maps the errors of a statement on notification_channels.
func wrapChannelError(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	code, constraint := pgErrorCode(err)
	switch {
	case code == codeUniqueViolation && constraint == "notification_channels_name_key":
		return fmt.Errorf("store: %s: %w: %w", op, ErrNameTaken, err)
	case code == codeCheckViolation:
		return fmt.Errorf("store: %s: %w (%s): %w", op, ErrInvalid, constraint, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// uniqueIDs returns ids without duplicates, in first-seen order, never nil.
func uniqueIDs(ids []uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// uniqueStrings returns ss without duplicates, in first-seen order, never nil.
func uniqueStrings(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
