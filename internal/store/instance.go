package store

import (
	"context"
	"fmt"
)

// InstanceID returns the random ID the migrations gave this database (see
// migration 00005): a prefix for Temporal IDs of rows numbered here.
func (s *Store) InstanceID(ctx context.Context) (string, error) {
	var id string
	if err := s.pool.QueryRow(ctx, `SELECT id::text FROM windflow_instance`).Scan(&id); err != nil {
		return "", fmt.Errorf("store: instance id: %w", err)
	}
	return id, nil
}
