package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/client"
)

// engineError wraps err from the engine API with the operation that failed.
// Errors that mean the engine did not answer also wrap ErrUnreachable;
// context errors are kept as they are (still wrapped) so that callers can
// tell a cancellation from an engine failure with errors.Is.
func engineError(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("engine: %s: %w", op, err)
	}
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("engine: %s: %w: %w", op, ErrUnreachable, err)
	}
	return fmt.Errorf("engine: %s: %w", op, err)
}
