package store

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err, returned by a Store method, means that
// PostgreSQL could not be reached or did not answer in time (refused or cut
// connections, a server shutting down or starting up, too many connections,
// a deadline that passed while waiting for it) rather than
// that it refused the request itself (ErrNotFound, ErrInvalid, ErrNameTaken,
// any other SQL error). Call it on store errors only: an engine that refuses
// connections fails with the same network errors.
//
// A canceled context is not an outage: whoever canceled it stopped the call.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNameTaken) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableCode(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// pgx marks errors that happened before anything reached the server.
	return pgconn.SafeToRetry(err)
}

// unavailableCode reports whether a PostgreSQL error code says the server
// cannot serve at all right now: connection exceptions (class 08),
// insufficient resources (class 53: too many connections, out of memory or
// disk), and a server shutting down, crashing or starting up (57P01–57P03).
func unavailableCode(code string) bool {
	if len(code) == 5 && (code[:2] == "08" || code[:2] == "53") {
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03":
		return true
	}
	return false
}
