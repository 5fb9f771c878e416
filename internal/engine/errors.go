package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/netpolicy"
)

// engineError wraps err from the engine API with the operation that failed.
// Errors that mean the engine did not answer also wrap ErrUnreachable — a
// target the outbound policy refused is one, with the refusal as its text;
// context errors are kept as they are (still wrapped) so that callers can
// tell a cancellation from an engine failure with errors.Is. The text of
// err, which may hold up to 1 MiB of the engine's error body, is bounded
// (see BoundError).
func engineError(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("engine: %s: %w", op, err)
	}
	if refused, ok := errors.AsType[*netpolicy.RefusedError](err); ok {
		return fmt.Errorf("engine: %s: %w: %w", op, ErrUnreachable, refused)
	}
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("engine: %s: %w: %w", op, ErrUnreachable, BoundError(err))
	}
	return fmt.Errorf("engine: %s: %w", op, BoundError(err))
}

// BoundError returns err with its text bounded to netpolicy.MaxRemoteText
// bytes and free of control characters (netpolicy.RemoteText), still
// matching what err matches (errors.Is, errors.As, the errdefs checks).
// Use it on an error of the moby client before storing or serving its
// text: the client copies up to 1 MiB of the engine's error body into it.
// nil stays nil.
func BoundError(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	bounded := netpolicy.RemoteText(text)
	if bounded == text {
		return err
	}
	return &boundedError{text: bounded, err: err}
}

// boundedError is an error with shorter text than the error it wraps.
type boundedError struct {
	text string
	err  error
}

func (e *boundedError) Error() string { return e.text }
func (e *boundedError) Unwrap() error { return e.err }
